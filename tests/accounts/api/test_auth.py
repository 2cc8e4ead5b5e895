import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"
PASSWORD_URL = "/api/v1/auth/password/"

STRONG = "Tr1cky-passphrase-42"


def register(client, email="new@example.com", password=STRONG, confirm=None):
    return client.post(
        REGISTER, {"email": email, "password": password, "confirm_password": confirm or password}, format="json"
    )


def test_register_returns_tokens_and_user(api_client):
    response = register(api_client)
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"]
    assert body["expires_in"] == 300
    assert body["user"]["email"] == "new@example.com"
    assert User.objects.filter(email="new@example.com").exists()


def test_register_access_token_authenticates(api_client):
    token = register(api_client).json()["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ME).json()["email"] == "new@example.com"


def test_register_password_mismatch_is_400_with_field(api_client):
    response = register(api_client, confirm="something-else-42X")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "confirm_password" in response.json()["errors"]


def test_register_weak_password_is_400(api_client):
    response = register(api_client, password="password")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert not User.objects.filter(email="new@example.com").exists()


def test_register_duplicate_email_is_400_case_insensitive(api_client):
    UserFactory(email="taken@example.com")
    response = register(api_client, email="TAKEN@example.com")
    assert response.status_code == 400
    assert response.json()["errors"]["email"] == ["An account with this email already exists."]


def test_register_missing_fields_lists_each(api_client):
    response = api_client.post(REGISTER, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email", "password", "confirm_password"}


def test_login_returns_token_pair(api_client, user):
    response = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


def test_login_email_is_case_insensitive(api_client, user):
    response = api_client.post(LOGIN, {"email": user.email.upper(), "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_login_wrong_password_and_unknown_email_get_the_same_401(api_client, user):
    wrong_password = api_client.post(LOGIN, {"email": user.email, "password": "nope-nope-nope"}, format="json")
    unknown_email = api_client.post(LOGIN, {"email": "ghost@example.com", "password": PASSWORD}, format="json")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password["Content-Type"] == "application/problem+json"


def test_login_inactive_user_is_401(api_client):
    inactive = UserFactory(is_active=False)
    response = api_client.post(LOGIN, {"email": inactive.email, "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(api_client, user):
    first = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").json()
    rotated = api_client.post(REFRESH, {"refresh_token": first["refresh_token"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    reused = api_client.post(REFRESH, {"refresh_token": first["refresh_token"]}, format="json")
    assert reused.status_code == 401
    # Reuse of a rotated token is taken as theft: the newer token of the same sign-in is refused too.
    again = api_client.post(REFRESH, {"refresh_token": rotated.json()["refresh_token"]}, format="json")
    assert again.status_code == 401


def test_refresh_with_garbage_is_401(api_client):
    assert api_client.post(REFRESH, {"refresh_token": "not-a-token"}, format="json").status_code == 401


def test_refresh_for_deactivated_user_is_401(api_client, user):
    tokens = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").json()
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert api_client.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 401


def test_logout_kills_the_refresh_token(api_client, user):
    tokens = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").json()
    assert api_client.post(LOGOUT, {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 204
    assert api_client.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 401


def test_logout_with_invalid_token_is_401(api_client):
    assert api_client.post(LOGOUT, {"refresh_token": "garbage"}, format="json").status_code == 401


def test_access_token_is_not_a_refresh_token(api_client, user):
    tokens = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").json()
    assert api_client.post(REFRESH, {"refresh_token": tokens["access_token"]}, format="json").status_code == 401


def test_me_requires_a_token(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_rejects_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer abc.def.ghi")
    assert api_client.get(ME).status_code == 401


def test_me_patch_updates_full_name(auth_client, user):
    response = auth_client.patch(ME, {"full_name": "Ada Lovelace"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.full_name == "Ada Lovelace"


def test_me_patch_cannot_change_email_or_staff(auth_client, user):
    auth_client.patch(ME, {"email": "other@example.com", "is_staff": True}, format="json")
    user.refresh_from_db()
    assert (user.email.startswith("user"), user.is_staff) == (True, False)


def test_password_change_requires_old_password(auth_client):
    response = auth_client.post(PASSWORD_URL, {"old_password": "wrong", "new_password": STRONG}, format="json")
    assert response.status_code == 400
    assert "old_password" in response.json()["errors"]


def test_password_change_rejects_weak_password(auth_client):
    response = auth_client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": "123"}, format="json")
    assert response.status_code == 400
    assert "new_password" in response.json()["errors"]


def test_password_change_works_and_revokes_refresh_tokens(api_client, auth_client, user):
    tokens = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").json()
    response = auth_client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": STRONG}, format="json")
    assert response.status_code == 204
    assert api_client.post(LOGIN, {"email": user.email, "password": STRONG}, format="json").status_code == 200
    assert api_client.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 401


def test_url_names_resolve_under_v1():
    assert reverse("v1:login") == LOGIN
