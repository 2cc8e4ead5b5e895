"""The user of an access token is read through the shared cache and dropped when the user changes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db(transaction=True)  # the cache entry is dropped again at commit

ME = "/api/v1/auth/me/"


def _user_reads(captured) -> int:
    return sum('FROM "accounts_user"' in query["sql"] for query in captured.captured_queries)


def test_the_second_request_does_not_read_the_user(auth_client, settings):
    assert settings.JWT_USER_CACHE_SECONDS > 0
    auth_client.get(ME)
    with CaptureQueriesContext(connection) as captured:
        assert auth_client.get(ME).status_code == 200
    assert _user_reads(captured) == 0


def test_without_the_cache_every_request_reads_the_user(auth_client, settings):
    settings.JWT_USER_CACHE_SECONDS = 0
    auth_client.get(ME)
    with CaptureQueriesContext(connection) as captured:
        auth_client.get(ME)
    assert _user_reads(captured) == 1


def test_a_deactivated_user_is_refused_at_once(auth_client, user):
    assert auth_client.get(ME).status_code == 200  # cached now
    user.is_active = False
    user.save()
    assert auth_client.get(ME).status_code == 401


def test_a_changed_user_is_read_again(auth_client, user):
    auth_client.get(ME)
    user.full_name = "Renamed Person"
    user.save(update_fields=["full_name"])
    assert auth_client.get(ME).json()["full_name"] == "Renamed Person"


def test_a_deleted_user_is_refused(auth_client, user):
    auth_client.get(ME)
    user.delete()
    assert auth_client.get(ME).status_code == 401
