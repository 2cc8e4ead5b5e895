"""Django's PostgreSQL engine with the zero-downtime migrations schema editor (see common/db/__init__.py)."""

from django.db.backends.postgresql import base
from django_zero_downtime_migrations.backends.postgres.schema import DatabaseSchemaEditor


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's wrapper; only migrations differ (schema editor with lock timeouts)."""

    SchemaEditorClass = DatabaseSchemaEditor
