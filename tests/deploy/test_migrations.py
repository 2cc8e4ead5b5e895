"""Migration safety: the PostgreSQL engine's schema editor gives up on a lock instead of queueing the traffic
behind it, it composes with the connection pool, and django-migration-linter passes on our migrations."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import OperationalError, connection, models
from django_zero_downtime_migrations.backends.postgres.schema import DatabaseSchemaEditor

from projects.models import Project
from tests.support import database_url

ROOT = Path(__file__).resolve().parents[2]


def test_the_engine_is_ours_with_the_zero_downtime_schema_editor():
    assert connection.settings_dict["ENGINE"].endswith(".postgresql")
    assert connection.settings_dict["ENGINE"].startswith("common.db.")
    assert issubclass(connection.SchemaEditorClass, DatabaseSchemaEditor)


@pytest.mark.django_db(transaction=True)
def test_a_migration_behind_a_long_transaction_gives_up_after_the_lock_timeout():
    # A request's open transaction that read the table holds ACCESS SHARE; ALTER TABLE needs ACCESS EXCLUSIVE.
    # Without lock_timeout the ALTER waits, and every later query on the table queues behind the ALTER.
    field = models.IntegerField(null=True)
    field.set_attributes_from_name("lock_probe")
    with psycopg.connect(database_url()) as other:
        other.execute("SELECT count(*) FROM projects_project")  # psycopg opened a transaction: the lock is held
        started = time.monotonic()
        with pytest.raises(OperationalError, match="(lock|statement) timeout"):  # noqa: SIM117 - the editor raises
            with connection.schema_editor(atomic=False) as editor:
                editor.add_field(Project, field)
        waited = time.monotonic() - started
    assert waited < 10  # ZERO_DOWNTIME_MIGRATIONS_LOCK_TIMEOUT (2 s), not forever
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'projects_project' "
            "AND column_name = 'lock_probe'"
        )
        assert cursor.fetchone()[0] == 0


PROBE = """
import json
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
print(json.dumps({
    "engine": connection.settings_dict["ENGINE"],
    "pooled": connection.pool is not None,
    "schema_editor": connection.SchemaEditorClass.__module__,
}))
"""


# The processes below connect to the test database pytest-django created: the DATABASE_URL of the environment
# names one that a clean machine does not have.
@pytest.mark.django_db
def test_the_engine_keeps_the_connection_pool():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DB_POOL": "true"}
    env["DATABASE_URL"] = database_url()
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state == {
        "engine": "common.db.observed.postgresql",
        "pooled": True,
        "schema_editor": "django_zero_downtime_migrations.backends.postgres.schema",
    }


@pytest.mark.django_db
def test_migration_linter_passes_on_our_migrations():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url()}
    result = subprocess.run(
        [sys.executable, "manage.py", "lintmigrations", "-q", "ok", "ignore"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Erroneous migrations: 0/" in result.stdout
