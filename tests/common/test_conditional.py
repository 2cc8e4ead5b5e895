"""Conditional requests (common.conditional): ETag, 304 on If-None-Match, 412 on a stale If-Match, both versions."""

import threading
import time

import pytest
from django.db import connection, transaction

from common.conditional import match, none_match
from tests.conftest import client_for
from tests.factories import MembershipFactory, WorkflowFactory, transform_definition
from workflows.models import Execution, ExecutionStatus, Workflow, WorkflowVersion

VERSIONS = pytest.mark.parametrize("version", ["1", "2"])


def _data(response, version):
    body = response.json()
    return body["data"] if version == "2" else body


@pytest.fixture
def editor_and_workflow(db):
    workflow = WorkflowFactory()
    editor = MembershipFactory(project=workflow.project, role="editor").user
    return editor, workflow


def _finished_execution(workflow, status=ExecutionStatus.COMPLETED):
    return Execution.objects.create(
        workflow=workflow, workflow_version=WorkflowVersion.objects.get(workflow=workflow), status=status
    )


# --- The comparison functions (RFC 9110 §8.8.3.2) ------------------------------------------------------------------


def test_if_none_match_uses_weak_comparison():
    assert not none_match('W/"abc"', '"abc"')
    assert not none_match('"x", "abc"', '"abc"')
    assert none_match('"abd"', '"abc"')


def test_if_none_match_star_matches_any_representation():
    assert not none_match("*", '"abc"')


def test_if_match_uses_strong_comparison():
    assert match(['"abc"'], '"abc"')
    assert not match(['W/"abc"'], '"abc"')
    assert match(["*"], '"abc"')
    assert not match([], '"abc"')


# --- GETs: ETag, Cache-Control, 304 ----------------------------------------------------------------------------------


@VERSIONS
def test_a_workflow_answers_304_to_its_own_etag(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    client, url = client_for(editor), f"/api/v{version}/workflows/{workflow.id}/"
    first = client.get(url)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "private, no-cache"


@VERSIONS
def test_a_weak_form_of_the_etag_also_answers_304(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    client, url = client_for(editor), f"/api/v{version}/workflows/{workflow.id}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304


@VERSIONS
def test_a_changed_workflow_answers_200_to_the_old_etag(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    client, url = client_for(editor), f"/api/v{version}/workflows/{workflow.id}/"
    old = client.get(url)["ETag"]
    assert client.patch(url, {"name": "Renamed"}, format="json").status_code == 200
    response = client.get(url, HTTP_IF_NONE_MATCH=old)
    assert response.status_code == 200
    assert _data(response, version)["name"] == "Renamed"
    assert response["ETag"] != old


def test_the_etag_differs_between_versions(editor_and_workflow):
    editor, workflow = editor_and_workflow
    client = client_for(editor)
    v1 = client.get(f"/api/v1/workflows/{workflow.id}/")["ETag"]
    v2 = client.get(f"/api/v2/workflows/{workflow.id}/")["ETag"]
    assert v1 != v2
    assert client.get(f"/api/v2/workflows/{workflow.id}/", HTTP_IF_NONE_MATCH=v1).status_code == 200


def test_the_project_etag_differs_per_role(project_with_roles):
    project, users = project_with_roles
    url = f"/api/v1/projects/{project.id}/"
    owner = client_for(users["owner"]).get(url)["ETag"]
    viewer = client_for(users["viewer"])
    assert viewer.get(url)["ETag"] != owner
    assert viewer.get(url, HTTP_IF_NONE_MATCH=owner).status_code == 200


@VERSIONS
def test_the_project_list_answers_304_until_a_project_changes(project_with_roles, version):
    project, users = project_with_roles
    client, url = client_for(users["owner"]), f"/api/v{version}/projects/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.patch(f"/api/v{version}/projects/{project.id}/", {"name": "New"}, format="json").status_code == 200
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


@VERSIONS
def test_a_project_answers_304_to_star(project_with_roles, version):
    project, users = project_with_roles
    response = client_for(users["viewer"]).get(f"/api/v{version}/projects/{project.id}/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 304


@VERSIONS
def test_a_finished_execution_answers_304(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    execution = _finished_execution(workflow)
    client, url = client_for(editor), f"/api/v{version}/executions/{execution.id}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


@VERSIONS
def test_a_running_execution_has_no_etag(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    execution = _finished_execution(workflow, status=ExecutionStatus.RUNNING)
    response = client_for(editor).get(f"/api/v{version}/executions/{execution.id}/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 200
    assert "ETag" not in response
    assert response["Cache-Control"] == "private, no-cache"


def test_a_non_member_gets_404_not_304(editor_and_workflow, user):
    _, workflow = editor_and_workflow
    response = client_for(user).get(f"/api/v1/workflows/{workflow.id}/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 404


# --- PATCH with If-Match --------------------------------------------------------------------------------------------


@VERSIONS
def test_a_stale_if_match_answers_412_and_changes_nothing(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    client, url = client_for(editor), f"/api/v{version}/workflows/{workflow.id}/"
    stale = client.get(url)["ETag"]
    changed = transform_definition() | {"output": {"greeting": "{{ steps.greet.output }}"}}
    assert client.patch(url, {"definition": changed}, format="json", HTTP_IF_MATCH=stale).status_code == 200
    response = client.patch(url, {"name": "Lost update"}, format="json", HTTP_IF_MATCH=stale)
    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "precondition_failed"
    assert Workflow.objects.get(pk=workflow.pk).name == workflow.name


@VERSIONS
def test_a_fresh_if_match_applies_the_change_and_answers_the_new_etag(editor_and_workflow, version):
    editor, workflow = editor_and_workflow
    client, url = client_for(editor), f"/api/v{version}/workflows/{workflow.id}/"
    fresh = client.get(url)["ETag"]
    response = client.patch(url, {"name": "Renamed"}, format="json", HTTP_IF_MATCH=fresh)
    assert response.status_code == 200
    assert response["ETag"] == client.get(url)["ETag"] != fresh


def test_an_invalid_definition_is_a_400_even_with_a_stale_if_match(editor_and_workflow):
    # The content is checked before the precondition (found by schemathesis: an invalid body answered 412).
    editor, workflow = editor_and_workflow
    url = f"/api/v1/workflows/{workflow.id}/"
    response = client_for(editor).patch(url, {"definition": {"steps": []}}, format="json", HTTP_IF_MATCH='"stale"')
    assert response.status_code == 400


def test_a_weak_if_match_never_matches(editor_and_workflow):
    editor, workflow = editor_and_workflow
    client, url = client_for(editor), f"/api/v1/workflows/{workflow.id}/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"name": "x"}, format="json", HTTP_IF_MATCH=f"W/{etag}").status_code == 412


def test_a_viewer_with_a_fresh_if_match_gets_403(project_with_roles):
    project, users = project_with_roles
    workflow = WorkflowFactory(project=project)
    client, url = client_for(users["viewer"]), f"/api/v1/workflows/{workflow.id}/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"name": "x"}, format="json", HTTP_IF_MATCH=etag).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_patches_with_one_if_match_exactly_one_wins(editor_and_workflow):
    editor, workflow = editor_and_workflow
    url = f"/api/v1/workflows/{workflow.id}/"
    etag = client_for(editor).get(url)["ETag"]
    statuses: list[int] = []

    def patch(name):
        try:
            response = client_for(editor).patch(url, {"name": name}, format="json", HTTP_IF_MATCH=etag)
            statuses.append(response.status_code)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=patch, args=(f"Writer {n}",)) for n in range(2)]
    # Hold the row: both requests pass their own reads and wait on the service's lock together.
    with transaction.atomic():
        Workflow.objects.select_for_update().get(pk=workflow.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0] >= 2:
                    break
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 412]
    assert Workflow.objects.get(pk=workflow.pk).name.startswith("Writer ")


# --- The schema ------------------------------------------------------------------------------------------------------


@VERSIONS
def test_the_schema_documents_the_validators(client, version):
    schema = client.get(f"/api/v{version}/schema/?format=json").json()
    detail = schema["paths"][f"/api/v{version}/workflows/{{id}}/"]
    get_parameters = {parameter["name"] for parameter in detail["get"]["parameters"]}
    patch_parameters = {parameter["name"] for parameter in detail["patch"]["parameters"]}
    assert "If-None-Match" in get_parameters
    assert "If-Match" in patch_parameters
    assert "304" in detail["get"]["responses"]
    assert "ETag" in detail["get"]["responses"]["200"]["headers"]
    assert "412" in detail["patch"]["responses"]
    execution = schema["paths"][f"/api/v{version}/executions/{{id}}/"]["get"]
    assert "304" in execution["responses"]
