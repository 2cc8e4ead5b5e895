"""End to end on a real gunicorn with the production settings: an OAuth2 client gets a token from /o/token/ and
calls the API with it; a personal API token does the same; their limits hold there too."""

import base64
import http.client
import json
import urllib.parse

import pytest

from tests.common.servers import Gunicorn
from tests.factories import MembershipFactory, api_token, oauth_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def server(django_db_setup):
    # After django_db_setup, so that the server's DATABASE_URL names the test database.
    with Gunicorn() as running:
        yield running


def _token(server, client_id: str, secret: str, scope: str) -> tuple[int, dict]:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/o/token/",
            body=form,
            headers={
                "Host": "127.0.0.1",
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_oauth_client_token_calls_the_api_bound_to_its_project(server, settings):
    # The secret is hashed here, checked by the server: with the production hasher (the test settings' is MD5).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    membership = MembershipFactory(role="admin")
    project, admin = membership.project, membership.user
    other = MembershipFactory(user=admin, role="owner").project
    client_id, secret = oauth_client(project, admin, scope="write")

    status, body = _token(server, client_id, secret, "read")
    assert status == 200, body
    assert body["access_token"].startswith("aio_") and body["scope"] == "read"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}

    status, _, raw = server.request("GET", f"/api/v1/projects/{project.pk}/", headers=bearer)
    assert status == 200, server.output()[-3000:]
    assert json.loads(raw)["id"] == str(project.pk)
    assert server.request("GET", f"/api/v1/projects/{other.pk}/", headers=bearer)[0] == 404
    assert server.request("PATCH", f"/api/v1/projects/{project.pk}/", body={"name": "x"}, headers=bearer)[0] == 403

    status, body = _token(server, client_id, "wrong-secret", "read")
    assert status == 401 and body["error"] == "invalid_client"


def test_api_token_calls_the_api(server):
    membership = MembershipFactory(role="owner")
    user, project = membership.user, membership.project
    bearer = {"Authorization": f"Bearer {api_token(user, 'read')}"}

    status, _, raw = server.request("GET", "/api/v2/projects/", headers=bearer)
    assert status == 200, server.output()[-3000:]
    assert [p["id"] for p in json.loads(raw)["data"]] == [str(project.pk)]
    status, headers, raw = server.request("POST", "/api/v1/projects/", body={"name": "new"}, headers=bearer)
    assert status == 403 and headers["Content-Type"] == "application/problem+json"
    assert server.request("GET", "/api/v1/auth/me/", headers={"Authorization": "Bearer aia_" + "z" * 43})[0] == 401
