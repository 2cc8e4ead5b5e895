"""The customer's journey over real HTTP against a real Celery worker process on Redis (not eager mode)."""

import pytest
import requests

from tests.factories import transform_definition
from tests.support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "Tr1cky-passphrase-42"


def journey_definition() -> dict:
    definition = transform_definition()
    definition["steps"].append(
        {
            "id": "notify",
            "type": "http",
            "depends_on": ["shout"],
            "config": {"method": "POST", "url": "{{ input.callback }}", "json": {"text": "{{ steps.shout.output }}"}},
            "timeout_seconds": 10,
        }
    )
    definition["output"]["echo"] = "{{ steps.notify.output.json.received.text }}"
    definition["output"]["status"] = "{{ steps.notify.output.status_code }}"
    return definition


def poll_final(session: requests.Session, url: str) -> dict:
    def final():
        body = session.get(url, timeout=10).json()
        return body if body["status"] in ("completed", "failed", "cancelled") else None

    return wait_for(final, timeout=60, message=f"{url} to reach a final status")


def test_register_create_project_workflow_execute_and_complete(live_server, start_worker, local_server):
    start_worker()
    api = f"{live_server.url}/api/v1"
    session = requests.Session()

    registered = session.post(
        f"{api}/auth/register/",
        json={"email": "journey@example.com", "password": PASSWORD, "confirm_password": PASSWORD},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    session.headers["Authorization"] = f"Bearer {registered.json()['access_token']}"

    project = session.post(f"{api}/projects/", json={"name": "Journey"}, timeout=10)
    assert project.status_code == 201, project.text

    workflow = session.post(
        f"{api}/projects/{project.json()['id']}/workflows/",
        json={"name": "Greeter", "definition": journey_definition()},
        timeout=10,
    )
    assert workflow.status_code == 201, workflow.text
    assert workflow.json()["version"] == 1

    started = session.post(
        f"{api}/workflows/{workflow.json()['id']}/executions/",
        json={"input": {"name": "Ada", "callback": local_server.url("/hit/notify")}},
        timeout=10,
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "pending"

    execution = poll_final(session, f"{api}/executions/{started.json()['id']}/")

    assert execution["status"] == "completed", execution
    assert execution["output"] == {"greeting": "HELLO ADA", "length": 9, "echo": "HELLO ADA", "status": 200}
    assert execution["workflow_version"] == 1
    assert execution["duration_ms"] >= 0
    assert [(s["step_id"], s["status"], s["attempts"]) for s in execution["steps"]] == [
        ("greet", "completed", 1),
        ("shout", "completed", 1),
        ("count", "completed", 1),
        ("notify", "completed", 1),
    ]
    assert local_server.hits == {"/hit/notify": 1}


def test_cancel_through_the_api_stops_a_running_execution(live_server, start_worker, local_server, user):
    from accounts.services import token_pair_for
    from tests.factories import MembershipFactory, WorkflowFactory

    start_worker()
    workflow = WorkflowFactory(
        definition={
            "steps": [
                {"id": "wait", "type": "http", "config": {"url": local_server.url("/block/wait")}},
                {"id": "after", "type": "http", "depends_on": ["wait"], "config": {"url": local_server.url("/hit/x")}},
            ]
        }
    )
    MembershipFactory(project=workflow.project, user=user, role="editor")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_pair_for(user)['access_token']}"
    api = f"{live_server.url}/api/v1"

    started = session.post(f"{api}/workflows/{workflow.id}/executions/", json={"input": {}}, timeout=10)
    assert local_server.entered.wait(timeout=30), "the first step never reached the local server"
    cancel = session.post(f"{api}/executions/{started.json()['id']}/cancel/", timeout=10)
    assert cancel.status_code == 202
    assert cancel.json()["cancel_requested"] is True
    local_server.release.set()

    execution = poll_final(session, f"{api}/executions/{started.json()['id']}/")

    assert execution["status"] == "cancelled"
    assert {s["step_id"]: s["status"] for s in execution["steps"]} == {"wait": "completed", "after": "skipped"}
    assert "/hit/x" not in local_server.hits
