"""Security review, weakness 4: sign-in lockout (django-axes) for the API's login and the admin's, per account and
per address, with a cool-off. Before the fix, 100 wrong passwords to /admin/login/ were all answered (each an
Argon2 hash) and the API's login was limited per address only (10/minute)."""

import time
from datetime import timedelta

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def api_login(email, password, *, address="192.0.2.10", version="v1"):
    client = APIClient(REMOTE_ADDR=address)
    return client.post(f"/api/{version}/auth/login/", {"email": email, "password": password}, format="json")


def admin_login(email, password, *, address="192.0.2.10"):
    return Client(REMOTE_ADDR=address).post("/admin/login/", {"username": email, "password": password})


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_api_account_locks_after_the_limit_and_refuses_the_right_password(version):
    user = UserFactory()
    # From a new address each time: the per-account count alone locks.
    failures = [
        api_login(user.email, "wrong-password", address=f"198.51.100.{n}", version=version).status_code
        for n in range(LIMIT - 1)
    ]
    locking = api_login(user.email, "wrong-password", address="198.51.100.50", version=version)
    after = api_login(user.email, PASSWORD, address="198.51.100.99", version=version)

    assert failures == [401] * (LIMIT - 1)
    assert locking.status_code == 429
    assert after.status_code == 429
    assert after["Content-Type"] == "application/problem+json"
    assert after.json()["code"] == "locked_out"
    assert 0 < int(after["Retry-After"]) <= 15 * 60


def test_api_address_locks_after_the_limit_for_every_account():
    victims = UserFactory.create_batch(LIMIT)
    for victim in victims:
        api_login(victim.email, "wrong-password", address="203.0.113.5")
    fresh = UserFactory()

    assert api_login(fresh.email, PASSWORD, address="203.0.113.5").status_code == 429
    assert api_login(fresh.email, PASSWORD, address="203.0.113.6").status_code == 200


def test_lockout_is_one_audit_event(settings):
    user = UserFactory()
    for _ in range(LIMIT + 2):
        api_login(user.email, "wrong-password")

    events = AuditEvent.objects.filter(action="auth.lockout")
    assert events.count() == 1
    event = events.get()
    assert event.ip == "192.0.2.10"
    assert event.detail["failures"] == LIMIT
    assert user.email not in str(event.detail)  # a keyed hash, never the email


def test_lockout_ends_after_the_cool_off(settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    user = UserFactory()
    for _ in range(LIMIT):
        api_login(user.email, "wrong-password")
    assert api_login(user.email, PASSWORD).status_code == 429

    time.sleep(2.2)

    assert api_login(user.email, PASSWORD).status_code == 200


def test_success_before_the_limit_resets_the_count():
    user = UserFactory()
    for _ in range(LIMIT - 1):
        api_login(user.email, "wrong-password")
    assert api_login(user.email, PASSWORD).status_code == 200
    for _ in range(LIMIT - 1):
        api_login(user.email, "wrong-password")

    assert api_login(user.email, PASSWORD).status_code == 200


def test_admin_login_locks_per_account_with_429():
    staff = UserFactory(is_staff=True)
    failures = [
        admin_login(staff.email, "wrong-password", address=f"198.51.100.{n}").status_code for n in range(LIMIT - 1)
    ]
    locking = admin_login(staff.email, "wrong-password", address="198.51.100.50")
    after = admin_login(staff.email, PASSWORD, address="198.51.100.99")

    assert failures == [200] * (LIMIT - 1)  # the login form again, with its error
    assert locking.status_code == 429
    assert after.status_code == 429
    assert int(after["Retry-After"]) > 0
    assert "_auth_user_id" not in after.client.session


def test_admin_and_api_share_one_count_per_account():
    staff = UserFactory(is_staff=True)
    for _ in range(LIMIT):
        admin_login(staff.email, "wrong-password")

    assert api_login(staff.email, PASSWORD, address="198.51.100.77").status_code == 429


def test_lockout_uses_the_trusted_client_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    user = UserFactory()
    client = APIClient(REMOTE_ADDR="198.51.100.7")  # not a proxy: its X-Forwarded-For is ignored
    for n in range(LIMIT):
        client.post(
            "/api/v1/auth/login/",
            {"email": f"nobody{n}@example.com", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )

    assert api_login(user.email, PASSWORD, address="198.51.100.7").status_code == 429


def test_an_operator_lifts_a_lockout_with_axes_reset_username():
    from django.core.management import call_command

    user = UserFactory()
    for n in range(LIMIT):
        api_login(user.email, "wrong-password", address=f"198.51.100.{n}")
    assert api_login(user.email, PASSWORD, address="198.51.100.99").status_code == 429

    call_command("axes_reset_username", user.email)

    assert api_login(user.email, PASSWORD, address="198.51.100.99").status_code == 200
