"""End to end, on gunicorn with a real Celery worker and a real SMTP server (aiosmtpd) started by the test:
register → verification mail → verify → invited → invitation mail → accept → member; and the hijack refused."""

import json
import re

import pytest

from tests.common.servers import Gunicorn, SmtpServer, production_env
from tests.support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "Tr1cky-passphrase-42"


class Api:
    """JSON calls to the gunicorn under test, with an optional bearer token."""

    def __init__(self, server: Gunicorn):
        self.server = server

    def call(self, method, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, _, raw = self.server.request(method, f"/api/v1/{path}", body=body, headers=headers)
        return status, (json.loads(raw) if raw else None)

    def register(self, email) -> str:
        status, body = self.call(
            "POST", "auth/register/", {"email": email, "password": PASSWORD, "confirm_password": PASSWORD}
        )
        assert status == 201, body
        return body["access_token"]


def token_in(mailbox: SmtpServer, address: str, *, count: int = 1) -> str:
    """The token of the `count`-th mail to `address`, once it has arrived."""
    messages = wait_for(lambda: len(mailbox.to(address)) >= count and mailbox.to(address), message=f"mail {address}")
    return re.search(r"#token=(\S+)", messages[count - 1].get_content()).group(1)


@pytest.fixture
def stack(start_worker, settings):
    """An SMTP server, a worker and gunicorn publishing to that worker's queue, all mailing through the server.

    The SMTP server is not listening yet: the test starts it, so the first sends fail and the task's retry runs."""
    mailbox = SmtpServer()
    mail_env = {"EMAIL_URL": mailbox.url, "FRONTEND_URL": "https://app.example.com"}
    # Production settings on both sides, as deployed: the worker signs verification links with the SECRET_KEY
    # that the web process checks them with.
    worker = start_worker(**production_env(**mail_env))
    with Gunicorn(WORKFLOW_EXECUTION_QUEUE=start_worker.queue, **mail_env) as server:
        try:
            yield Api(server), mailbox, worker, server
        finally:
            mailbox.stop()


def test_register_verify_invite_accept_over_smtp(stack):
    api, mailbox, worker, server = stack
    owner = api.register("owner@example.com")
    invitee = api.register("invitee@example.com")
    # The worker tried while nothing listened on the SMTP port; its retry delivers once the server is up.
    wait_for(lambda: "Retry in" in worker.log(), timeout=60, message="a retried send")
    mailbox.start()

    status, body = api.call("POST", "auth/verify-email/", {"token": token_in(mailbox, "invitee@example.com")})
    assert status == 200, body
    assert body["email_verified"] is True

    status, project = api.call("POST", "projects/", {"name": "Launch"}, token=owner)
    assert status == 201
    status, invitation = api.call(
        "POST", f"projects/{project['id']}/invitations/", {"email": "invitee@example.com", "role": "editor"}, owner
    )
    assert (status, invitation["status"]) == (201, "pending")
    assert api.call("GET", f"projects/{project['id']}/", token=invitee)[0] == 404

    invitation_token = token_in(mailbox, "invitee@example.com", count=2)
    assert "Launch" in mailbox.to("invitee@example.com")[1]["Subject"]
    status, joined = api.call("POST", "invitations/accept/", {"token": invitation_token}, invitee)
    assert (status, joined["id"], joined["role"]) == (200, project["id"], "editor")
    status, members = api.call("GET", f"projects/{project['id']}/members/", token=invitee)
    assert {m["email"] for m in members["results"]} == {"owner@example.com", "invitee@example.com"}
    assert api.call("POST", "invitations/accept/", {"token": invitation_token}, invitee)[0] == 410

    for log in (worker.log(), server.output()):
        assert invitation_token not in log


def test_registering_the_invited_address_first_gets_nothing(stack):
    """The hijack of issue 12: an account made for the invited address, unverified, or another verified account
    holding the token (as if it leaked), cannot take the invitation; the members POST only invites."""
    api, mailbox, worker, server = stack
    mailbox.start()
    owner = api.register("owner@example.com")
    squatter = api.register("victim@example.com")
    stranger = api.register("stranger@example.com")
    status, _ = api.call("POST", "auth/verify-email/", {"token": token_in(mailbox, "stranger@example.com")})
    assert status == 200

    _, project = api.call("POST", "projects/", {"name": "Secret"}, token=owner)
    status, invitation = api.call("POST", f"projects/{project['id']}/members/", {"email": "victim@example.com"}, owner)
    assert (status, invitation["status"]) == (202, "pending")
    assert api.call("GET", f"projects/{project['id']}/", token=squatter)[0] == 404

    leaked = token_in(mailbox, "victim@example.com", count=2)  # 1: the squatter's verification mail
    status, problem = api.call("POST", "invitations/accept/", {"token": leaked}, squatter)
    assert (status, problem["code"]) == (403, "email_not_verified")
    status, problem = api.call("POST", "invitations/accept/", {"token": leaked}, stranger)
    assert (status, problem["code"]) == (404, "invitation_not_found")
    for user in (squatter, stranger):
        assert api.call("GET", f"projects/{project['id']}/", token=user)[0] == 404
