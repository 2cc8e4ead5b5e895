"""Project secrets end to end: the API over real HTTP, a real Celery worker process, a local server that receives
the value. Nothing stored or logged holds it; the database holds only ciphertext; a viewer cannot write; after a
key rotation and `secrets_rewrap`, a worker that knows only the new key still sends the value."""

import pytest
import requests
from cryptography.fernet import Fernet
from django.core.management import call_command

from accounts.services import token_pair_for
from audit.models import AuditEvent
from projects.models import ProjectSecret
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.support import columns_containing, wait_for
from tests.workflows.steps.conftest import LocalServer, Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

API_TOKEN = "e2e-api-token-4f8a9c2d71b3e6"


@pytest.fixture
def echo():
    """Answers /echo with the request's headers, as debugging services do (so an unredacted store would show)."""
    local = LocalServer()
    local.route("/echo", lambda r: Reply(json={"headers": r.headers}))
    yield local
    local.close()


def session_for(user) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_pair_for(user)['access_token']}"
    return session


def execute(session: requests.Session, api: str, workflow_id: str) -> dict:
    started = session.post(f"{api}/workflows/{workflow_id}/executions/", json={"input": {}}, timeout=10)
    assert started.status_code == 202, started.text

    def final():
        body = session.get(f"{api}/executions/{started.json()['id']}/", timeout=10).json()
        return body if body["status"] in ("completed", "failed", "cancelled") else None

    return wait_for(final, timeout=60, message="the execution to finish")


def test_a_secret_reaches_the_server_and_nothing_stored_or_logged_holds_it(live_server, start_worker, echo, settings):
    worker = start_worker()
    api = f"{live_server.url}/api/v1"
    project = ProjectFactory()
    editor, viewer = UserFactory(), UserFactory()
    MembershipFactory(project=project, user=editor, role="editor")
    MembershipFactory(project=project, user=viewer, role="viewer")
    as_editor, as_viewer = session_for(editor), session_for(viewer)

    # A viewer cannot write a secret; an editor can.
    refused = as_viewer.post(f"{api}/projects/{project.pk}/secrets/", json={"name": "API_TOKEN", "value": "x" * 8})
    assert refused.status_code == 403
    created = as_editor.post(
        f"{api}/projects/{project.pk}/secrets/", json={"name": "API_TOKEN", "value": API_TOKEN}, timeout=10
    )
    assert created.status_code == 201, created.text
    assert (
        as_viewer.put(
            f"{api}/projects/{project.pk}/secrets/API_TOKEN/", json={"value": "y" * 8}, timeout=10
        ).status_code
        == 403
    )

    definition = {
        "steps": [
            {
                "id": "call",
                "type": "http",
                "config": {"url": echo.url("/echo"), "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}"}},
            }
        ],
        "output": {"echoed": "{{ steps.call.output.json.headers.Authorization }}"},
    }
    workflow = as_editor.post(
        f"{api}/projects/{project.pk}/workflows/", json={"name": "Caller", "definition": definition}, timeout=10
    )
    assert workflow.status_code == 201, workflow.text

    execution = execute(as_editor, api, workflow.json()["id"])

    assert execution["status"] == "completed", execution
    assert echo.received[-1].headers["Authorization"] == f"Bearer {API_TOKEN}"
    assert execution["output"] == {"echoed": "[redacted]"}
    assert API_TOKEN not in repr(execution)
    # Nowhere in the database: executions, step runs, audit events and history, the secret's own row.
    assert columns_containing(API_TOKEN) == []
    ciphertext = ProjectSecret.objects.get(project=project).ciphertext
    assert ciphertext.startswith("gAAAA") and API_TOKEN not in ciphertext
    assert API_TOKEN not in worker.log()
    used = AuditEvent.objects.get(action="secret.used")
    assert used.detail["name"] == "API_TOKEN" and used.actor_id == editor.pk

    # Rotation: a new key first, rewrap, and a worker that knows only the new key still sends the value.
    old_key = settings.SECRETS_ENCRYPTION_KEY
    new_key = Fernet.generate_key().decode()
    settings.SECRETS_ENCRYPTION_KEY = f"{new_key},{old_key}"
    call_command("secrets_rewrap")
    worker.stop()
    start_worker(SECRETS_ENCRYPTION_KEY=new_key)

    again = execute(as_editor, api, workflow.json()["id"])

    assert again["status"] == "completed", again
    assert echo.received[-1].headers["Authorization"] == f"Bearer {API_TOKEN}"
    assert columns_containing(API_TOKEN) == []
