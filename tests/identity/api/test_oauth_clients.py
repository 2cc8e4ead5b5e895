"""Project OAuth2 clients: managed by project admins, tokens from /o/token/ bound like project API tokens."""

import base64

import pytest
from django.contrib.auth.hashers import get_hasher, identify_hasher
from oauth2_provider.models import AccessToken, Application

from audit.models import AuditEvent
from identity.models import OAuthClient
from tests.conftest import client_for
from tests.factories import MembershipFactory, api_token, bearer_client, oauth_access_token, oauth_client
from tests.support import columns_containing

pytestmark = pytest.mark.django_db

TOKEN_URL = "/o/token/"


def clients_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/oauth-clients/"


def token_request(client, client_id, secret, **data):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(TOKEN_URL, {"grant_type": "client_credentials", **data}, HTTP_AUTHORIZATION=f"Basic {basic}")


def test_admin_creates_a_client_whose_secret_is_shown_once_and_stored_hashed(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["admin"]).post(clients_url(project), {"name": "ci", "scope": "write"}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    secret = body["client_secret"]
    assert len(secret) >= 40 and body["token_url"].endswith("/o/token/")
    stored = Application.objects.get(client_id=body["client_id"]).client_secret
    # The first PASSWORD_HASHERS (Argon2 in base settings; the test settings' fast one here).
    assert stored != secret and identify_hasher(stored).algorithm == get_hasher("default").algorithm
    assert columns_containing(secret) == []
    listed = client_for(users["owner"]).get(clients_url(project)).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]] and "client_secret" not in listed[0]
    assert AuditEvent.objects.filter(action="auth.oauth_client.created", resource_id=body["id"]).exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_below_admin_cannot_create_or_list_clients(project_with_roles, role):
    project, users = project_with_roles
    client = client_for(users[role])
    assert client.post(clients_url(project), {"name": "ci"}, format="json").status_code == 403
    assert client.get(clients_url(project)).status_code == 403


def test_non_member_gets_404_for_clients(project_with_roles):
    project, users = project_with_roles
    assert client_for(users["outsider"]).get(clients_url(project)).status_code == 404


def test_token_endpoint_issues_a_short_lived_read_token_by_default(client, project_with_roles):
    project, users = project_with_roles
    client_id, secret = oauth_client(project, users["admin"], scope="write")
    response = token_request(client, client_id, secret)
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith("aio_")
    assert body["expires_in"] == 900 and body["scope"] == "read" and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    # Only its checksum is stored (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE).
    assert AccessToken.objects.get().token == ""
    assert columns_containing(body["access_token"]) == []
    assert AuditEvent.objects.filter(action="auth.oauth_token.issued", project_id=project.pk).exists()


def test_read_client_cannot_get_write_scope(client, project_with_roles):
    project, users = project_with_roles
    client_id, secret = oauth_client(project, users["admin"], scope="read")
    response = token_request(client, client_id, secret, scope="write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_wrong_secret_is_401_invalid_client(client, project_with_roles):
    project, users = project_with_roles
    client_id, _ = oauth_client(project, users["admin"])
    response = token_request(client, client_id, "wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_other_grant_types_are_refused(client, project_with_roles):
    project, users = project_with_roles
    client_id, secret = oauth_client(project, users["admin"])
    response = token_request(client, client_id, secret, grant_type="password", username="x", password="y")
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("unauthorized_client", "unsupported_grant_type", "invalid_grant")


def test_oauth_token_is_bound_to_its_project(project_with_roles):
    project, users = project_with_roles
    admin = users["admin"]
    other = MembershipFactory(user=admin, role="owner").project
    api = bearer_client(oauth_access_token(*oauth_client(project, admin), scope="read write"))
    assert [p["id"] for p in api.get("/api/v1/projects/").json()["results"]] == [str(project.pk)]
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    assert api.get(f"/api/v1/projects/{other.pk}/").status_code == 404
    assert api.post("/api/v1/projects/", {"name": "new"}, format="json").status_code == 403


def test_read_scoped_oauth_token_gets_403_on_writes(project_with_roles):
    project, users = project_with_roles
    api = bearer_client(oauth_access_token(*oauth_client(project, users["admin"]), scope="read"))
    assert api.patch(f"/api/v1/projects/{project.pk}/", {"name": "x"}, format="json").status_code == 403


def test_write_scoped_oauth_token_writes(project_with_roles):
    project, users = project_with_roles
    api = bearer_client(oauth_access_token(*oauth_client(project, users["admin"]), scope="read write"))
    response = api.patch(f"/api/v1/projects/{project.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200


def test_oauth_token_cannot_manage_clients(project_with_roles):
    project, users = project_with_roles
    api = bearer_client(oauth_access_token(*oauth_client(project, users["admin"]), scope="read write"))
    assert api.post(clients_url(project), {"name": "more", "scope": "write"}, format="json").status_code == 403


def test_deleting_the_client_stops_its_tokens(project_with_roles):
    project, users = project_with_roles
    raw = oauth_access_token(*oauth_client(project, users["admin"]))
    api = bearer_client(raw)
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    client = OAuthClient.objects.get(project=project)
    response = client_for(users["owner"]).delete(f"{clients_url(project)}{client.pk}/")
    assert response.status_code == 204
    assert not Application.objects.filter(pk=client.application_id).exists()
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 401


def test_a_client_stops_when_its_creator_leaves_the_project(project_with_roles):
    project, users = project_with_roles
    api = bearer_client(oauth_access_token(*oauth_client(project, users["admin"])))
    client_for(users["owner"]).delete(
        f"/api/v1/projects/{project.pk}/members/{project.memberships.get(user=users['admin']).pk}/"
    )
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_unknown_oauth_token_is_401(db):
    response = bearer_client("aio_" + "y" * 43).get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_erasure_deletes_the_clients_the_person_created(project_with_roles):
    from accounts.gdpr.erasure import Via, user_erase

    project, users = project_with_roles
    raw = oauth_access_token(*oauth_client(project, users["admin"]))
    user_erase(user=users["admin"], via=Via.COMMAND, record_in_ledger=False)
    assert not OAuthClient.objects.exists()
    assert bearer_client(raw).get(f"/api/v1/projects/{project.pk}/").status_code == 401


def test_v2_lists_clients_in_its_envelope(project_with_roles):
    project, users = project_with_roles
    oauth_client(project, users["admin"])
    body = client_for(users["admin"]).get(f"/api/v2/projects/{project.pk}/oauth-clients/").json()
    assert len(body["data"]) == 1 and "meta" in body


def test_api_token_helper_bound_to_another_project_is_404(project_with_roles):
    project, users = project_with_roles
    elsewhere = MembershipFactory(user=users["owner"], role="owner").project
    api = bearer_client(api_token(users["owner"], "write", project=elsewhere))
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_token_endpoint_is_rate_limited_per_address(client, project_with_roles, settings):
    project, users = project_with_roles
    client_id, _ = oauth_client(project, users["admin"])
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "oauth_token": "3/minute"},
    }
    statuses = [token_request(client, client_id, "guess").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = token_request(client, client_id, "guess")
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"] == "temporarily_unavailable"


def test_unknown_oauth_path_is_404(client):
    assert client.get("/o/authorize/").status_code == 404
    assert client.get("/o/applications/").status_code == 404
