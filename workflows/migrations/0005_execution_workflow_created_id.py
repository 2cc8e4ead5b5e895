from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres

CREATED_AT_INDEX = "workflows_execution_created_at_7febd466"  # BaseModel's db_index on created_at


def _concurrently(schema_editor) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def drop_created_at_index(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX{_concurrently(schema_editor)} IF EXISTS "{CREATED_AT_INDEX}"')


def create_created_at_index(apps, schema_editor):
    schema_editor.execute(
        f'CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS "{CREATED_AT_INDEX}" '
        'ON "workflows_execution" ("created_at")'
    )


class Migration(migrations.Migration):
    """The executions of a workflow in the order both API versions page them (newest first, then id): a page is
    read straight from the index, with no sort of ties (issue 13, goal 4). It replaces the index on
    (workflow, -created_at), whose columns it begins with, and the one on created_at alone, which the planner
    preferred for a busy workflow and which made a quiet one's page skip every newer execution (0.7 s at 1M
    rows). Built and dropped concurrently on PostgreSQL."""

    atomic = False

    dependencies = [
        ("workflows", "0004_execution_claims_db_default"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="execution",
            index=models.Index(fields=["workflow", "-created_at", "-id"], name="execution_workflow_created_id"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="execution", name="execution_workflow_created"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="execution", name="created_at", field=models.DateTimeField(auto_now_add=True)
                ),
            ],
            database_operations=[migrations.RunPython(drop_created_at_index, create_created_at_index)],
        ),
    ]
