"""PostgreSQL engines whose schema editor is django-pg-zero-downtime-migrations' (lock and statement timeouts on
every migration statement, CREATE INDEX CONCURRENTLY, safe constraint changes): `common.db.postgresql` over Django's
engine, `common.db.observed.postgresql` over django-prometheus' counting one. Both end in ".postgresql", the vendor
the backups and the production check look for; the connection pool and Vault's credentials work unchanged (the
wrappers only swap the schema editor class; Django's pool dict is the base class's, shared)."""
