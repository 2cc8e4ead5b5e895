"""workflows 0002 scrubs literal credentials from stored workflows and versions, and says how many it found."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import WorkflowFactory
from workflows.models import Workflow, WorkflowVersion

# Outside a transaction: later migrations (workflows.0005) build indexes concurrently, which PostgreSQL refuses
# inside one; the fixture brings the schema back to the latest migrations afterwards.
pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, SCRUB = ("workflows", "0001_initial"), ("workflows", "0002_scrub_literal_credentials")


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.fixture(autouse=True)
def _back_to_the_latest_migrations():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def leaky_definition() -> dict:
    return {
        "steps": [
            {
                "id": "call",
                "type": "http",
                "config": {
                    "url": "https://deploy:hunter22@api.example.com/hook",
                    "headers": {
                        "Authorization": "Bearer literal-token-123",
                        "X-Api-Key": "k-0123456789",
                        "Accept": "application/json",
                        "X-Templated-Token": "{{ input.token }}",
                    },
                },
            },
            {"id": "say", "type": "transform", "config": {"value": "Authorization: Bearer stays-in-a-transform"}},
        ]
    }


def test_the_migration_scrubs_literal_credentials_and_prints_how_many(capsys):
    migrate(BEFORE)
    leaky = WorkflowFactory(definition=leaky_definition())  # the workflow and its version 1: 3 credentials each
    clean = WorkflowFactory()
    capsys.readouterr()

    migrate(SCRUB)

    printed = capsys.readouterr().out
    assert "6 literal credentials replaced by [redacted] (3 in 1 workflows, 3 in 1 versions)" in printed
    for definition in (
        Workflow.objects.get(pk=leaky.pk).definition,
        WorkflowVersion.objects.get(workflow=leaky).definition,
    ):
        config = definition["steps"][0]["config"]
        assert config["url"] == "https://%5Bredacted%5D@api.example.com/hook"
        assert config["headers"] == {
            "Authorization": "[redacted]",
            "X-Api-Key": "[redacted]",
            "Accept": "application/json",
            "X-Templated-Token": "{{ input.token }}",
        }
        assert definition["steps"][1] == leaky_definition()["steps"][1]
    assert Workflow.objects.get(pk=clean.pk).definition == clean.definition
    assert "hunter22" not in repr(list(WorkflowVersion.objects.values_list("definition", flat=True)))
