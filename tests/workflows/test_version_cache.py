"""A workflow's current version is read through the shared cache, and a published version is pinned at once."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from tests.factories import MembershipFactory, WorkflowFactory, transform_definition
from workflows.selectors import VERSION_CACHE_KEY, workflow_version_current

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_and_workflow(db):
    workflow = WorkflowFactory()
    return MembershipFactory(project=workflow.project, role="editor").user, workflow


def test_the_second_lookup_reads_no_version_row(editor_and_workflow, settings):
    assert settings.WORKFLOW_VERSION_CACHE_SECONDS > 0
    _, workflow = editor_and_workflow
    first = workflow_version_current(workflow=workflow)
    with CaptureQueriesContext(connection) as captured:
        again = workflow_version_current(workflow=workflow)
    assert captured.captured_queries == []
    assert (again.pk, again.version) == (first.pk, 1)


def test_without_the_cache_each_lookup_reads_the_row(editor_and_workflow, settings):
    settings.WORKFLOW_VERSION_CACHE_SECONDS = 0
    _, workflow = editor_and_workflow
    workflow_version_current(workflow=workflow)
    with CaptureQueriesContext(connection) as captured:
        workflow_version_current(workflow=workflow)
    assert len(captured.captured_queries) == 1


def test_an_execution_after_a_publish_pins_the_new_version(editor_and_workflow):
    editor, workflow = editor_and_workflow
    client = client_for(editor)
    executions = f"/api/v1/workflows/{workflow.id}/executions/"
    assert client.post(executions, {"input": {"name": "a"}}, format="json").json()["workflow_version"] == 1
    changed = transform_definition() | {"output": {"greeting": "{{ steps.greet.output }}"}}
    response = client.patch(f"/api/v1/workflows/{workflow.id}/", {"definition": changed}, format="json")
    assert response.json()["version"] == 2
    assert client.post(executions, {"input": {"name": "b"}}, format="json").json()["workflow_version"] == 2


def test_a_deleted_workflow_drops_its_cached_version(editor_and_workflow):
    editor, workflow = editor_and_workflow
    workflow_version_current(workflow=workflow)
    key = VERSION_CACHE_KEY.format(workflow.pk, 1)
    assert cache.get(key) is not None
    assert client_for(editor).delete(f"/api/v1/workflows/{workflow.id}/").status_code == 204
    assert cache.get(key) is None
