"""PostgreSQL: the audit tables are append-only, for everyone, superusers included.

UPDATE, DELETE and TRUNCATE are refused, except on the three controlled paths, each enabled for one transaction
by `set_config('audit.<path>', 'on', true)` (audit.sealing._allowed):
- sealing: the sealer gives a row its sequence (and changes nothing else);
- clearing: retention and erasure set the personal columns to NULL (and change nothing else);
- retention: retention removes rows (and their seals, replaced by a checkpoint).
A database-level `audit.allow_truncate = on` lets the test suite empty its tables between tests; production
never sets it (and a superuser who does, or who disables the trigger, is caught by audit_verify).
SQLite (the embedded default) has no such trigger; rows are still sealed and verified.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  column_name text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    IF current_setting('audit.allow_truncate', true) = 'on' THEN RETURN NULL; END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    IF current_setting('audit.sealing', true) = 'on' AND to_jsonb(OLD) ? 'sequence'
       AND (to_jsonb(OLD) ->> 'sequence') IS NULL
       AND (to_jsonb(OLD) - 'sequence') = (to_jsonb(NEW) - 'sequence') THEN
      RETURN NEW;
    END IF;
    IF current_setting('audit.clearing', true) = 'on' AND TG_NARGS > 0
       AND (to_jsonb(OLD) - TG_ARGV) = (to_jsonb(NEW) - TG_ARGV) THEN
      FOREACH column_name IN ARRAY TG_ARGV LOOP
        IF (to_jsonb(NEW) ->> column_name) IS NOT NULL THEN
          RAISE EXCEPTION 'audit tables: % may only be cleared', column_name USING ERRCODE = 'insufficient_privilege';
        END IF;
      END LOOP;
      RETURN NEW;
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF current_setting('audit.retention', true) = 'on' THEN RETURN OLD; END IF;
  END IF;
  RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

# table -> personal columns (cleared by retention and erasure)
TABLES = {
    "audit_auditevent": ("ip", "user_agent"),
    "audit_modelhistory": ("remote_addr",),
    "audit_auditseal": (),
    "audit_auditremoval": (),
}


def _sql(forward: bool) -> list[str]:
    statements = [FUNCTION] if forward else []
    for table, personal in TABLES.items():
        arguments = ", ".join(f"'{column}'" for column in personal)
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        ]
        if forward:
            statements += [
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION audit_append_only({arguments})",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
            ]
    if not forward:
        statements.append("DROP FUNCTION IF EXISTS audit_append_only()")
    return statements


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _sql(True):
            schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _sql(False):
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
