"""Email verification: the mailed single-use token, verify and resend, and email_verified on /auth/me/."""

import base64
import json
import re
import time

import pytest
from django.core import mail
from django.utils import timezone

from accounts import services, tasks, verification
from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
VERIFY = "/api/v1/auth/verify-email/"
RESEND = "/api/v1/auth/verify-email/resend/"
ME = "/api/v1/auth/me/"
STRONG = "Tr1cky-passphrase-42"


def mailed_token(message) -> str:
    """The token of a verification mail (the link's fragment and the body both carry it)."""
    return re.search(r"#token=(\S+)", message.body).group(1)


def mail_link_to(user) -> str:
    """Run the mail task's body for `user` (the task's code, in this process) and return the mailed token."""
    tasks.send_verification_email(str(user.pk))
    return mailed_token(mail.outbox[-1])


def test_registration_queues_the_verification_mail_after_commit(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(
            REGISTER, {"email": "new@example.com", "password": STRONG, "confirm_password": STRONG}, format="json"
        )
    assert response.status_code == 201
    assert response.json()["user"]["email_verified"] is False
    assert len(callbacks) == 1


def test_the_mail_goes_to_the_account_with_a_link_in_the_fragment(settings):
    settings.FRONTEND_URL = "https://app.example.com"
    user = UserFactory()
    token = mail_link_to(user)
    message = mail.outbox[-1]
    assert message.to == [user.email]
    assert f"https://app.example.com/verify-email#token={token}" in message.body
    assert message.from_email == settings.DEFAULT_FROM_EMAIL


def test_verifying_with_the_mailed_token_marks_the_account_verified(api_client):
    user = UserFactory()
    token = mail_link_to(user)
    response = api_client.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 200
    assert response.json()["email_verified"] is True
    assert client_for(user).get(ME).json()["email_verified"] is True
    assert AuditEvent.objects.filter(action=services.EMAIL_VERIFIED, resource_id=str(user.pk)).exists()


def test_a_new_account_is_unverified_on_me(auth_client):
    assert auth_client.get(ME).json()["email_verified"] is False


def test_the_token_works_once(api_client):
    token = mail_link_to(UserFactory())
    api_client.post(VERIFY, {"token": token}, format="json")
    response = api_client.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 410
    assert response.json()["code"] == "token_used"


def test_a_tampered_token_is_400(api_client):
    token = mail_link_to(UserFactory())
    response = api_client.post(VERIFY, {"token": token[:-2] + "xx"}, format="json")
    assert response.status_code == 400
    assert "token" in response.json()["errors"]


def test_another_accounts_token_cannot_be_forged_from_a_user_id(api_client):
    """The signature covers the payload: a token claiming another user id is not genuine."""
    victim = UserFactory()
    token = mail_link_to(UserFactory())
    payload, stamp, signature = token.split(":")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim["u"] = str(victim.pk)
    forged_payload = base64.urlsafe_b64encode(json.dumps(claim, separators=(",", ":")).encode()).decode().rstrip("=")
    forged = f"{forged_payload}:{stamp}:{signature}"
    assert forged != token
    assert api_client.post(VERIFY, {"token": forged}, format="json").status_code == 400
    victim.refresh_from_db()
    assert not victim.email_verified


def test_an_expired_token_is_410(api_client, settings):
    token = mail_link_to(UserFactory())
    settings.EMAIL_VERIFICATION_MAX_AGE_HOURS = 0
    time.sleep(1.1)  # signing's timestamps are in seconds
    response = api_client.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 410
    assert response.json()["code"] == "token_expired"


def test_a_token_stops_working_when_the_email_changes(api_client):
    user = UserFactory()
    token = mail_link_to(user)
    User.objects.filter(pk=user.pk).update(email="other@example.com")
    assert api_client.post(VERIFY, {"token": token}, format="json").status_code == 400


def test_nothing_is_mailed_to_a_verified_account():
    user = UserFactory(email_verified_at=timezone.now())
    assert services.email_verification_send(user_id=user.pk) is False
    assert mail.outbox == []


def test_resend_queues_a_new_mail(auth_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = auth_client.post(RESEND)
    assert response.status_code == 202
    assert len(callbacks) == 1


def test_resend_for_a_verified_account_is_409():
    user = UserFactory(email_verified_at=timezone.now())
    response = client_for(user).post(RESEND)
    assert response.status_code == 409
    assert response.json()["code"] == "already_verified"


def test_resend_is_throttled_per_user(auth_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "email": "2/hour"},
    }
    statuses = [auth_client.post(RESEND).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]


def test_resend_needs_authentication(api_client):
    assert api_client.post(RESEND).status_code == 401


def test_v2_wraps_the_verified_account(api_client):
    token = mail_link_to(UserFactory())
    body = api_client.post("/api/v2/auth/verify-email/", {"token": token}, format="json").json()
    assert body["data"]["email_verified"] is True
    assert body["meta"]["api_version"] == "2"


def test_the_task_logs_no_token(caplog):
    caplog.set_level("DEBUG")
    token = mail_link_to(UserFactory())
    assert token not in caplog.text
    assert "mail sent" in caplog.text


def test_the_token_module_reads_what_it_makes():
    user = UserFactory()
    claim = verification.read(verification.make_token(user))
    assert claim.user_id == str(user.pk)
    assert verification.matches(claim, user)
