import pytest
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


@pytest.fixture
def rates(settings):
    """Lower the throttle rates for one test (read at request time by common.throttling)."""

    def set_rates(**overrides):
        rest = dict(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **overrides}
        settings.REST_FRAMEWORK = rest
        assert api_settings.DEFAULT_THROTTLE_RATES["anon"] == rest["DEFAULT_THROTTLE_RATES"]["anon"]

    return set_rates


def test_login_is_throttled_with_retry_after(api_client, user, rates):
    rates(auth="3/minute")
    statuses = [
        api_client.post(LOGIN, {"email": user.email, "password": "wrong-password"}, format="json").status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    response = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 0 < int(response["Retry-After"]) <= 60


def test_authenticated_requests_are_throttled_per_user(auth_client, rates):
    rates(user="2/minute")
    statuses = [auth_client.get("/api/v1/projects/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_anonymous_requests_are_throttled_per_address(api_client, rates):
    rates(anon="2/minute")
    statuses = [api_client.post("/api/v1/auth/refresh/", {}, format="json").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_throttle_counts_are_kept_in_the_shared_cache(api_client, rates):
    from django.core.cache import cache
    from django_redis import get_redis_connection

    from common.throttling import WINDOW_KEY_PREFIX

    rates(anon="5/minute")
    api_client.post("/api/v1/auth/refresh/", {}, format="json")
    api_client.post("/api/v1/auth/refresh/", {}, format="json")
    # One stamp per allowed request in the window, in the shared Redis (every process sees the same count).
    assert get_redis_connection().zcard(cache.make_key(WINDOW_KEY_PREFIX + "throttle_anon_127.0.0.1")) == 2


def test_forged_forwarded_for_does_not_escape_the_limit(api_client, rates, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]  # the test client connects from 127.0.0.1
    rates(anon="2/minute")
    statuses = [
        api_client.post(
            "/api/v1/auth/refresh/", {}, format="json", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.7"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [400, 400, 429]


@pytest.mark.django_db(transaction=True)  # the threads' own connections must see the user
def test_concurrent_requests_cannot_share_the_last_slot(user, rates):
    """The window is checked and taken in one Redis script: of 8 simultaneous requests with 3 slots, 3 pass."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from tests.conftest import client_for

    rates(user="3/minute")
    clients = [client_for(user) for _ in range(8)]

    def get(client):
        try:
            return client.get("/api/v1/auth/me/").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(get, clients))
    assert statuses == [200, 200, 200, 429, 429, 429, 429, 429]


def test_rotating_forwarded_for_from_an_untrusted_address_does_not_dodge_the_login_throttle(rates, settings):
    """Security review, weakness 5: 20 wrong passwords then the right one, each with a new X-Forwarded-For, sent
    straight to the app from an address that is not a proxy. Before the fix (TRUSTED_PROXY_COUNT=1, as deployed)
    every answer was a 401 and the last a 200."""
    settings.TRUSTED_PROXY_COUNT = 1  # the setting TRUSTED_PROXIES replaced, as deployed (now ignored)
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.AXES_ENABLED = False  # the throttle alone (the lockout has its own tests)
    rates(auth="5/minute")
    user = UserFactory(email="victim@example.com")
    client = APIClient(REMOTE_ADDR="198.51.100.7")

    def login(password, n):
        body = {"email": user.email, "password": password}
        return client.post("/api/v1/auth/login/", body, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    statuses = [login("wrong-password", n).status_code for n in range(20)]
    final = login(PASSWORD, 99)

    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert final.status_code == 429
