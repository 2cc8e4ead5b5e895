"""Personal API tokens: the API that manages them, and what a token may do once it authenticates."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent, ModelHistory
from identity.models import ApiToken
from tests.conftest import client_for
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    WorkflowFactory,
    api_token,
    bearer_client,
)
from tests.support import columns_containing

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/auth/tokens/"
ME = "/api/v1/auth/me/"
PROJECTS = "/api/v1/projects/"


def create(client, **body):
    return client.post(TOKENS, {"name": "ci", **body}, format="json")


def test_created_token_is_shown_once_and_only_its_hash_is_stored(user, auth_client):
    response = create(auth_client, scope="write")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    raw = response.json()["token"]
    assert raw.startswith("aia_") and len(raw) >= 4 + 43
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    # Nowhere in the database: not the token, not its secret part (the prefix is only its first 8 characters).
    assert columns_containing(raw) == []
    assert columns_containing(raw[12:]) == []
    listed = auth_client.get(TOKENS).json()["results"]
    assert [item["id"] for item in listed] == [str(row.pk)]
    assert "token" not in listed[0] and "token_hash" not in listed[0]


def test_token_defaults_to_read_and_ninety_days(auth_client):
    body = create(auth_client).json()
    assert body["scope"] == "read"
    expires = ApiToken.objects.get(pk=body["id"]).expires_at
    assert abs(expires - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)


@pytest.mark.parametrize("days", [0, 366])
def test_lifetime_outside_one_to_365_days_is_400(auth_client, days):
    response = create(auth_client, expires_in_days=days)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "expires_in_days" in response.json()["errors"]


def test_binding_to_a_project_of_someone_else_is_400(auth_client):
    response = create(auth_client, project=str(ProjectFactory().pk))
    assert response.status_code == 400
    assert "project" in response.json()["errors"]


def test_token_authenticates_and_keeps_last_used_at_at_most_once_a_minute(user):
    raw = api_token(user, "read")
    client = bearer_client(raw)
    assert client.get(ME).json()["email"] == user.email
    first = ApiToken.objects.get(user=user).last_used_at
    assert first is not None
    client.get(ME)
    assert ApiToken.objects.get(user=user).last_used_at == first
    ApiToken.objects.filter(user=user).update(last_used_at=first - timedelta(seconds=61))
    client.get(ME)
    assert ApiToken.objects.get(user=user).last_used_at > first


def test_read_token_gets_403_on_writes(user):
    project = MembershipFactory(user=user, role="owner").project
    client = bearer_client(api_token(user, "read"))
    assert client.get(f"{PROJECTS}{project.pk}/").status_code == 200
    assert client.patch(f"{PROJECTS}{project.pk}/", {"name": "renamed"}, format="json").status_code == 403
    assert client.post(PROJECTS, {"name": "new"}, format="json").status_code == 403
    response = client.delete(f"{PROJECTS}{project.pk}/")
    assert response.status_code == 403
    assert response.json()["detail"] == "This token's scope is read: it cannot change anything."


def test_write_token_writes_with_the_users_role(user):
    project = MembershipFactory(user=user, role="owner").project
    client = bearer_client(api_token(user, "write"))
    response = client.patch(f"{PROJECTS}{project.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "renamed"


def test_bound_token_sees_only_its_project(user):
    mine = MembershipFactory(user=user, role="owner").project
    other = MembershipFactory(user=user, role="owner").project
    other_workflow = WorkflowFactory(project=other)
    client = bearer_client(api_token(user, "write", project=mine))
    assert [p["id"] for p in client.get(PROJECTS).json()["results"]] == [str(mine.pk)]
    assert client.get(f"{PROJECTS}{mine.pk}/").status_code == 200
    assert client.get(f"{PROJECTS}{other.pk}/").status_code == 404
    assert client.get(f"{PROJECTS}{other.pk}/members/").status_code == 404
    assert client.get(f"/api/v1/workflows/{other_workflow.pk}/").status_code == 404
    assert client.patch(f"{PROJECTS}{other.pk}/", {"name": "x"}, format="json").status_code == 404


def test_bound_token_cannot_create_a_project(user):
    mine = MembershipFactory(user=user, role="owner").project
    response = bearer_client(api_token(user, "write", project=mine)).post(PROJECTS, {"name": "new"}, format="json")
    assert response.status_code == 403


def test_bound_token_cannot_export_the_whole_account(user):
    mine = MembershipFactory(user=user, role="owner").project
    response = bearer_client(api_token(user, "write", project=mine)).post("/api/v1/auth/me/export/")
    assert response.status_code == 403


def test_token_cannot_manage_tokens(user):
    client = bearer_client(api_token(user, "write"))
    assert create(client, scope="write").status_code == 403
    assert client.get(TOKENS).status_code == 403
    assert ApiToken.objects.filter(user=user).count() == 1


def test_revoked_token_is_401(user, auth_client):
    raw = api_token(user, "read")
    token = ApiToken.objects.get(user=user)
    assert auth_client.delete(f"{TOKENS}{token.pk}/").status_code == 204
    response = bearer_client(raw).get(ME)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(user):
    raw = api_token(user, "read")
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer_client(raw).get(ME).status_code == 401


def test_unknown_token_is_401_and_jwt_still_works(user):
    assert bearer_client("aia_" + "x" * 43).get(ME).status_code == 401
    assert bearer_client("not-a-jwt").get(ME).status_code == 401
    assert client_for(user).get(ME).status_code == 200


def test_someone_elses_token_is_404(auth_client):
    other = UserFactory()
    api_token(other, "read")
    token = ApiToken.objects.get(user=other)
    assert auth_client.delete(f"{TOKENS}{token.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_password_change_revokes_tokens(user, auth_client):
    raw = api_token(user, "read")
    response = auth_client.post(
        "/api/v1/auth/password/", {"old_password": PASSWORD, "new_password": "An0ther-passphrase!"}, format="json"
    )
    assert response.status_code == 204
    assert bearer_client(raw).get(ME).status_code == 401
    event = AuditEvent.objects.get(action="auth.password.changed")
    assert event.detail["api_tokens_revoked"] == 1


def test_erasure_revokes_tokens(user, auth_client):
    raw = api_token(user, "read")
    response = auth_client.delete(ME, {"password": PASSWORD}, format="json")
    assert response.status_code == 204
    assert ApiToken.objects.get(user=user).revoked_at is not None
    assert bearer_client(raw).get(ME).status_code == 401


def test_create_and_revoke_are_audited_without_the_hash(user, auth_client):
    body = create(auth_client, scope="write").json()
    auth_client.delete(f"{TOKENS}{body['id']}/")
    actions = set(AuditEvent.objects.filter(resource_id=body["id"]).values_list("action", flat=True))
    assert {"auth.api_token.created", "auth.api_token.revoked"} <= actions
    token_hash = ApiToken.objects.get(pk=body["id"]).token_hash
    history = ModelHistory.objects.filter(object_pk=body["id"])
    assert history.count() == 2
    assert all(token_hash not in str(entry.changes) for entry in history)


def test_v2_wraps_the_created_token(auth_client):
    response = auth_client.post("/api/v2/auth/tokens/", {"name": "ci"}, format="json")
    assert response.status_code == 201
    assert response.json()["data"]["token"].startswith("aia_")
    assert auth_client.get("/api/v2/auth/tokens/").json()["data"][0]["id"] == response.json()["data"]["id"]


def test_a_write_with_a_token_names_the_token_in_the_audit_event(user):
    project = MembershipFactory(user=user, role="owner").project
    bearer_client(api_token(user, "write")).patch(f"{PROJECTS}{project.pk}/", {"name": "renamed"}, format="json")
    token = ApiToken.objects.get(user=user)
    event = AuditEvent.objects.get(action="PATCH /api/v1/projects/{id}/")
    assert str(event.actor_id) == str(user.pk)
    assert event.actor_label == f"api_token {token.pk}"


def test_the_data_export_lists_tokens_without_their_hash(user):
    from identity.gdpr import api_tokens_export

    api_token(user, "read")
    token = ApiToken.objects.get(user=user)
    exported = api_tokens_export(user)
    assert [item["prefix"] for item in exported] == [token.prefix]
    assert token.token_hash not in str(exported)
