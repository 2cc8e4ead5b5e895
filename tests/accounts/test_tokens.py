"""Security review, weakness 6: refresh-token rotation. Two concurrent refreshes of one token both succeeded
(simplejwt blacklists with get_or_create); now exactly one does, and a rotated token used again revokes its whole
family. Threads against the real PostgreSQL database."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import RevokedTokenFamily
from accounts.services import token_pair_for
from audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

REFRESH = "/api/v1/auth/refresh/"
ROUNDS = 8
THREADS = 2


def refresh(raw: str):
    return APIClient().post(REFRESH, {"refresh_token": raw}, format="json")


def concurrently(raw: str, threads: int) -> list[int]:
    """POST the same refresh token from `threads` threads released together; their statuses."""
    barrier = threading.Barrier(threads)
    statuses: list[int] = []

    def one():
        try:
            barrier.wait(timeout=10)
            statuses.append(refresh(raw).status_code)
        finally:
            connection.close()  # each thread has its own connection

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_exactly_one_succeeds():
    user = UserFactory()
    outcomes = [sorted(concurrently(token_pair_for(user)["refresh_token"], THREADS)) for _ in range(ROUNDS)]

    assert outcomes == [[200, 401]] * ROUNDS


@pytest.mark.django_db
def test_a_rotation_chain_works():
    first = token_pair_for(UserFactory())["refresh_token"]
    second = refresh(first).json()["refresh_token"]
    third = refresh(second)

    assert third.status_code == 200


@pytest.mark.django_db
def test_reusing_a_rotated_token_revokes_its_whole_family():
    user = UserFactory()
    stolen = token_pair_for(user)["refresh_token"]
    legitimate = refresh(stolen).json()["refresh_token"]  # the owner rotates

    replay = refresh(stolen)  # the thief replays the old one
    after = refresh(legitimate)

    assert replay.status_code == 401
    assert after.status_code == 401  # the family is gone: the owner signs in again
    assert RevokedTokenFamily.objects.count() == 1
    event = AuditEvent.objects.get(action="auth.refresh.reused")
    assert event.resource_id == str(user.pk)


@pytest.mark.django_db
def test_another_family_of_the_same_user_is_untouched():
    user = UserFactory()
    other_session = token_pair_for(user)["refresh_token"]
    stolen = token_pair_for(user)["refresh_token"]
    refresh(stolen)
    refresh(stolen)

    assert refresh(other_session).status_code == 200
    login = APIClient().post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert login.status_code == 200


@pytest.mark.django_db
def test_a_forged_token_revokes_nothing():
    refresh("not-a-token")
    assert not RevokedTokenFamily.objects.exists()
