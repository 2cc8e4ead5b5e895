"""DELETE /auth/me/ with the password: the person erases their own account; anything else changes nothing."""

import pytest

from accounts.models import User
from audit.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"


@pytest.fixture
def tokens(api_client, user):
    return api_client.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json").json()


def test_erasure_with_the_password_is_204_and_the_account_is_gone(auth_client, user, gdpr_storage):
    response = auth_client.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 204
    account = User.objects.get(pk=user.pk)
    assert account.erased_at is not None and account.email.endswith("@invalid")
    assert AuditEvent.objects.get(action="gdpr.erasure").detail["via"] == "api"


def test_after_erasure_the_refresh_token_is_refused(auth_client, api_client, tokens, gdpr_storage):
    auth_client.delete(ME, {"password": PASSWORD}, format="json")

    refused = api_client.post("/api/v1/auth/refresh/", {"refresh_token": tokens["refresh_token"]}, format="json")

    assert refused.status_code == 401


def test_a_wrong_password_is_403_and_changes_nothing(auth_client, user, tokens, api_client):
    response = auth_client.delete(ME, {"password": "not-the-password"}, format="json")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "wrong_password"
    account = User.objects.get(pk=user.pk)
    assert (account.email, account.is_active, account.erased_at) == (user.email, True, None)
    assert api_client.post("/api/v1/auth/refresh/", {"refresh_token": tokens["refresh_token"]}).status_code == 200


def test_a_missing_password_is_400_and_changes_nothing(auth_client, user):
    response = auth_client.delete(ME, {}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert User.objects.get(pk=user.pk).erased_at is None


def test_erasure_is_the_same_under_v2(auth_client, user, gdpr_storage):
    response = auth_client.delete("/api/v2/auth/me/", {"password": PASSWORD}, format="json")

    assert response.status_code == 204 and not response.content
    assert User.objects.get(pk=user.pk).erased_at is not None
