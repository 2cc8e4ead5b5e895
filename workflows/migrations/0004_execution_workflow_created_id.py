from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    """The executions of a workflow in the order both API versions page them (newest first, then id): v2's cursor
    reads a page straight from the index, with no sort of ties (issue 13, goal 4). It replaces the index on
    (workflow, -created_at), whose columns it begins with. Built and dropped concurrently on PostgreSQL."""

    atomic = False

    dependencies = [
        ("workflows", "0003_execution_claims"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="execution",
            index=models.Index(fields=["workflow", "-created_at", "-id"], name="execution_workflow_created_id"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="execution", name="execution_workflow_created"),
    ]
