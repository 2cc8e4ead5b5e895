"""Per-project daily quotas: executions started (429 problem+json over quota), overrides, counting under
concurrency across processes, and the metrics."""

import datetime
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from projects import quotas
from projects.models import QuotaUsage
from tests.conftest import client_for
from tests.factories import ProjectFactory
from tests.support import database_url

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queued():
    """The task publications (Celery's apply_async), without a broker: the e2e tests cover the real path."""
    with mock.patch("workflows.tasks.run_execution.apply_async") as apply_async:
        yield apply_async


def execute(client, workflow, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/workflows/{workflow.id}/executions/", {"input": {}}, format="json", **headers)


def test_starting_over_the_daily_quota_answers_429_naming_the_quota(workflow_with_roles, queued, settings):
    settings.QUOTA_EXECUTIONS_PER_DAY = 2
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    assert [execute(client, workflow).status_code for _ in range(2)] == [202, 202]

    refused = execute(client, workflow)

    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    body = refused.json()
    assert (body["code"], body["quota"]) == ("quota_exceeded", "executions")
    assert "2 executions per day" in body["detail"]
    assert 0 < int(refused["Retry-After"]) <= 86400
    assert workflow.executions.count() == 2


def test_the_v2_envelope_carries_the_same_problem(workflow_with_roles, queued, settings):
    settings.QUOTA_EXECUTIONS_PER_DAY = 1
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    client.post(f"/api/v2/workflows/{workflow.id}/executions/", {"input": {}}, format="json")
    refused = client.post(f"/api/v2/workflows/{workflow.id}/executions/", {"input": {}}, format="json")
    assert refused.status_code == 429
    assert refused.json()["quota"] == "executions"


def test_retry_after_counts_the_seconds_to_the_next_utc_midnight():
    late = datetime.datetime(2026, 12, 2, 23, 59, 30, tzinfo=datetime.UTC)
    assert quotas.seconds_until_renewal(late) == 30
    early = datetime.datetime(2026, 12, 2, 0, 0, 0, tzinfo=datetime.UTC)
    assert quotas.seconds_until_renewal(early) == 86400


def test_an_idempotent_replay_does_not_count(workflow_with_roles, queued, settings):
    settings.QUOTA_EXECUTIONS_PER_DAY = 1
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    assert execute(client, workflow, key="same").status_code == 202
    assert execute(client, workflow, key="same").status_code == 200  # the same execution, not a new one
    assert quotas.usage_today(project=workflow.project)["executions"] == 1


def test_a_project_override_replaces_the_default(workflow_with_roles, queued, settings):
    settings.QUOTA_EXECUTIONS_PER_DAY = 1
    workflow, users = workflow_with_roles
    workflow.project.quota_executions_per_day = 3
    workflow.project.save()
    client = client_for(users["editor"])
    assert [execute(client, workflow).status_code for _ in range(4)] == [202, 202, 202, 429]


def test_zero_means_unlimited(workflow_with_roles, queued, settings):
    settings.QUOTA_EXECUTIONS_PER_DAY = 1
    workflow, users = workflow_with_roles
    workflow.project.quota_executions_per_day = 0
    workflow.project.save()
    client = client_for(users["editor"])
    assert [execute(client, workflow).status_code for _ in range(3)] == [202, 202, 202]


def test_yesterdays_use_does_not_count_today(workflow_with_roles, queued, settings):
    settings.QUOTA_EXECUTIONS_PER_DAY = 1
    workflow, users = workflow_with_roles
    QuotaUsage.objects.create(project=workflow.project, day=quotas.today() - datetime.timedelta(days=1), executions=1)
    assert execute(client_for(users["editor"]), workflow).status_code == 202


CONSUMER = """
import django
django.setup()
from common.errors import QuotaExceeded
from projects import quotas
from projects.models import Project
project = Project.objects.get(pk="{project}")
granted = 0
for _ in range({attempts}):
    try:
        quotas.execution_consume(project=project)
        granted += 1
    except QuotaExceeded:
        pass
print(granted)
"""


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_are_never_granted_more_than_the_quota(settings):
    """Four processes race for one project's 50 executions with 30 attempts each: exactly 50 are granted."""
    project = ProjectFactory(quota_executions_per_day=50)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url())
    code = CONSUMER.format(project=project.pk, attempts=30)
    children = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    granted = [int(child.communicate(timeout=120)[0].split()[-1]) for child in children]
    assert sum(granted) == 50
    assert QuotaUsage.objects.get(project=project, day=quotas.today()).executions == 50


def test_refusals_and_exhausted_projects_are_exported_as_metrics(workflow_with_roles, queued, settings):
    from prometheus_client import REGISTRY

    from common.metrics_view import render_metrics

    settings.QUOTA_EXECUTIONS_PER_DAY = 1
    workflow, users = workflow_with_roles
    before = REGISTRY.get_sample_value("aiassistant_quota_refused_total", {"quota": "executions"}) or 0
    client = client_for(users["editor"])
    execute(client, workflow)
    execute(client, workflow)

    assert REGISTRY.get_sample_value("aiassistant_quota_refused_total", {"quota": "executions"}) == before + 1
    text = render_metrics().decode()
    assert 'aiassistant_quota_projects_exhausted{quota="executions"} 1.0' in text
    assert 'aiassistant_quota_max_used_ratio{quota="executions"} 1.0' in text
    assert str(workflow.project.pk) not in text  # no project id in any label
