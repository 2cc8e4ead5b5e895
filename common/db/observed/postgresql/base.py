"""django-prometheus' counting PostgreSQL engine with the zero-downtime migrations schema editor."""

from django_prometheus.db.backends.postgresql import base
from django_zero_downtime_migrations.backends.postgres.schema import DatabaseSchemaEditor


class DatabaseWrapper(base.DatabaseWrapper):
    """django-prometheus' wrapper (query counters); only migrations differ (schema editor with lock timeouts)."""

    SchemaEditorClass = DatabaseSchemaEditor
