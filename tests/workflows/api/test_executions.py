from unittest import mock

import pytest

from tests.conftest import client_for
from tests.factories import transform_definition
from workflows import runner
from workflows.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


def executions_url(workflow_id) -> str:
    return f"/api/v1/workflows/{workflow_id}/executions/"


def execution_url(execution_id) -> str:
    return f"/api/v1/executions/{execution_id}/"


@pytest.fixture
def queued():
    """The task publications (Celery's apply_async), without a broker: the e2e tests cover the real path."""
    with mock.patch("workflows.tasks.run_execution.apply_async") as apply_async:
        yield apply_async


def execute(client, workflow, body=None, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        executions_url(workflow.id), body if body is not None else {"input": {}}, format="json", **headers
    )


def test_editor_executes_and_gets_202_pending_queued_after_commit(
    workflow_with_roles, queued, django_capture_on_commit_callbacks
):
    workflow, users = workflow_with_roles
    with django_capture_on_commit_callbacks(execute=True):
        response = execute(client_for(users["editor"]), workflow, {"input": {"name": "Ada"}})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["input"], body["workflow_version"]) == ("pending", {"name": "Ada"}, 1)
    assert body["triggered_by"] == str(users["editor"].id)
    assert body["steps"] == []
    queued.assert_called_once_with(args=[body["id"]], queue="celery")


def test_an_input_value_may_be_null(workflow_with_roles, queued):
    # The schema allows any JSON value in `input` (schemathesis found `{"a": null}` refused with a 400).
    workflow, users = workflow_with_roles
    response = execute(client_for(users["editor"]), workflow, {"input": {"name": "Ada", "note": None}})
    assert response.status_code == 202
    assert response.json()["input"] == {"name": "Ada", "note": None}


def test_starting_an_execution_asks_the_database_only_what_it_must(workflow_with_roles, queued):
    """The workflow (with the caller's role), the day's quota count, the execution and its history row, the
    request's audit event (the current version's id is cached since the first start: workflows.selectors
    .workflow_version_current): no uniqueness probe of a fresh UUID, no savepoint without an
    Idempotency-Key, no query for the step runs that a new execution cannot have."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execute(client, workflow)  # the user is cached by the first request
    with CaptureQueriesContext(connection) as captured:
        assert execute(client, workflow).status_code == 202
    statements = [query["sql"] for query in captured.captured_queries]
    assert not [sql for sql in statements if sql.startswith("SELECT 1 AS")], statements
    # One savepoint: the service's transaction, nested in the test's own.
    assert len([sql for sql in statements if sql.startswith("SAVEPOINT")]) == 1, statements
    assert not [sql for sql in statements if 'FROM "workflows_steprun"' in sql], statements
    assert not [sql for sql in statements if 'FROM "workflows_workflowversion"' in sql], statements
    assert len([sql for sql in statements if sql.startswith(("SELECT", "INSERT", "UPDATE"))]) == 5, statements


def test_viewer_cannot_execute(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    response = execute(client_for(users["viewer"]), workflow)
    assert response.status_code == 403
    assert not Execution.objects.exists()


def test_same_idempotency_key_and_body_returns_the_same_execution_with_200(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    first = execute(client, workflow, {"input": {"n": 1}}, key="abc")
    second = execute(client, workflow, {"input": {"n": 1}}, key="abc")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Execution.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_422(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execute(client, workflow, {"input": {"n": 1}}, key="abc")
    response = execute(client, workflow, {"input": {"n": 2}}, key="abc")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert Execution.objects.count() == 1


def test_different_idempotency_keys_make_two_executions(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execute(client, workflow, key="one")
    execute(client, workflow, key="two")
    assert Execution.objects.count() == 2


def test_input_must_be_an_object(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    response = execute(client_for(users["editor"]), workflow, {"input": [1, 2]})
    assert response.status_code == 400
    assert "input" in response.json()["errors"]


def test_input_over_the_size_cap_is_400(workflow_with_roles, queued, settings):
    settings.WORKFLOW_INPUT_MAX_BYTES = 1024
    workflow, users = workflow_with_roles
    response = execute(client_for(users["editor"]), workflow, {"input": {"blob": "x" * 2000}})
    assert response.status_code == 400
    assert "1024 bytes" in response.json()["errors"]["input"][0]
    assert not Execution.objects.exists()


def test_inactive_workflow_cannot_be_executed(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    workflow.is_active = False
    workflow.save()
    assert execute(client_for(users["editor"]), workflow).status_code == 409


@pytest.mark.parametrize("method,suffix", [("get", ""), ("post", "cancel/")])
def test_non_member_gets_404_for_execution(workflow_with_roles, queued, method, suffix):
    workflow, users = workflow_with_roles
    execution_id = execute(client_for(users["editor"]), workflow).json()["id"]
    response = getattr(client_for(users["outsider"]), method)(execution_url(execution_id) + suffix)
    assert response.status_code == 404
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.PENDING


def test_viewer_reads_execution_but_cannot_cancel(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    execution_id = execute(client_for(users["editor"]), workflow).json()["id"]
    viewer = client_for(users["viewer"])
    assert viewer.get(execution_url(execution_id)).status_code == 200
    assert viewer.post(execution_url(execution_id) + "cancel/").status_code == 403


def test_cancel_pending_execution_cancels_at_once(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execution_id = execute(client, workflow).json()["id"]
    response = client.post(execution_url(execution_id) + "cancel/")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"] is not None


def test_cancel_finished_execution_is_409(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execution_id = execute(client, workflow, {"input": {"name": "Ada"}}).json()["id"]
    runner.execution_run(execution_id=execution_id)
    response = client.post(execution_url(execution_id) + "cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "already_finished"


def test_execution_detail_shape_after_a_run(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execution_id = execute(client, workflow, {"input": {"name": "Ada"}}).json()["id"]
    runner.execution_run(execution_id=execution_id)
    body = client.get(execution_url(execution_id)).json()
    assert set(body) >= {
        "id", "workflow", "workflow_version", "status", "input", "output", "error", "created_at",
        "started_at", "finished_at", "duration_ms", "triggered_by", "steps",
    }  # fmt: skip
    assert body["status"] == "completed"
    assert body["workflow"] == str(workflow.id)
    assert body["output"] == {"greeting": "HELLO ADA", "length": 9}
    assert isinstance(body["duration_ms"], int)
    step = body["steps"][0]
    assert set(step) == {
        "step_id", "type", "status", "attempts", "output", "error", "started_at", "finished_at", "duration_ms",
    }  # fmt: skip
    assert [(s["step_id"], s["status"]) for s in body["steps"]] == [
        ("greet", "completed"),
        ("shout", "completed"),
        ("count", "completed"),
    ]
    assert body["steps"][0]["output"] == {"message": "Hello Ada"}


def test_older_execution_keeps_its_version_after_a_definition_change(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    old_id = execute(client, workflow, {"input": {"name": "Ada"}}).json()["id"]
    definition = transform_definition()
    definition["output"] = {"v": 2}
    assert (
        client.patch(f"/api/v1/workflows/{workflow.id}/", {"definition": definition}, format="json").json()["version"]
        == 2
    )
    new = execute(client, workflow, {"input": {"name": "Ada"}}).json()
    assert new["workflow_version"] == 2
    assert client.get(execution_url(old_id)).json()["workflow_version"] == 1
    runner.execution_run(execution_id=new["id"])
    assert client.get(execution_url(new["id"])).json()["output"] == {"v": 2}


def test_list_filters_by_status_and_paginates(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    ids = [execute(client, workflow, {"input": {"name": "Ada"}}).json()["id"] for _ in range(3)]
    runner.execution_run(execution_id=ids[0])
    viewer = client_for(users["viewer"])
    completed = viewer.get(executions_url(workflow.id), {"status": "completed"}).json()
    assert [item["id"] for item in completed["results"]] == [ids[0]]
    page = viewer.get(executions_url(workflow.id), {"page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert "steps" not in page["results"][0]


def test_list_filters_by_creation_date(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    client = client_for(users["editor"])
    execution_id = execute(client, workflow).json()["id"]
    created = Execution.objects.get(pk=execution_id).created_at
    after = client.get(executions_url(workflow.id), {"created_after": created.isoformat()}).json()["results"]
    before = client.get(executions_url(workflow.id), {"created_before": created.isoformat()}).json()["results"]
    assert ([item["id"] for item in after], before) == ([execution_id], [])


def test_idempotency_key_too_long_is_400(workflow_with_roles, queued):
    workflow, users = workflow_with_roles
    response = execute(client_for(users["editor"]), workflow, key="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
