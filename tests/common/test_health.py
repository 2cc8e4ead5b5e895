"""Health endpoints with real dependencies, and what happens when one of them is down."""

import json
import uuid

import pytest

from tests.common.servers import METRICS_TOKEN, Gunicorn
from tests.factories import UserFactory
from tests.support import free_port

TOKEN = "in-process-metrics-token-0123456789"
DETAILED_CHECKS = {"database", "cache", "broker", "migrations", "storage", "disk", "memory", "cpu"}


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


# --- in-process ------------------------------------------------------------------------------------------------


def test_live_answers_without_touching_any_dependency(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/health/live/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_is_200_when_every_dependency_answers(client):
    response = client.get("/health/ready/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "migrations"}


@pytest.mark.django_db
def test_ready_is_503_naming_the_cache_when_redis_is_down_and_live_stays_200(client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": dead_redis_url(), "KEY_PREFIX": "x"}
    }

    ready = client.get("/health/ready/")

    assert ready.status_code == 503
    assert ready.json()["failing"] == ["cache"]
    assert client.get("/health/live/").status_code == 200


@pytest.mark.django_db
def test_ready_is_503_naming_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = dead_redis_url()

    ready = client.get("/health/ready/")

    assert ready.status_code == 503
    assert ready.json()["failing"] == ["broker"]


@pytest.mark.django_db
def test_the_api_answers_503_problem_json_when_the_cache_is_down(auth_client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": dead_redis_url(), "KEY_PREFIX": "x"}
    }

    response = auth_client.get("/api/v1/projects/")  # throttling reads the cache

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
def test_detailed_needs_staff_or_the_token(client):
    assert client.get("/health/detailed/").status_code == 401
    client.force_login(UserFactory())
    assert client.get("/health/detailed/").status_code == 403


@pytest.mark.django_db
def test_detailed_reports_every_check_for_staff(client):
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/health/detailed/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp", "checks", "uptime_seconds", "version"}
    assert body["status"] == "healthy"
    assert body["timestamp"].endswith("Z")
    assert set(body["checks"]) == DETAILED_CHECKS
    for check in body["checks"].values():
        assert set(check) == {"status", "latency_ms", "message"}
        assert check["status"] in ("healthy", "warning")
    assert body["checks"]["database"] == {
        "status": "healthy",
        "latency_ms": body["checks"]["database"]["latency_ms"],
        "message": "OK",
    }


@pytest.mark.django_db
def test_detailed_accepts_the_metrics_token(client):
    response = client.get("/health/detailed/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_storage_check_only_reads(client, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }

    response = client.get("/health/detailed/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.json()["checks"]["storage"]["status"] == "healthy"
    assert list(tmp_path.iterdir()) == []


# --- real gunicorn with a dependency down ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_database_unreachable_ready_503_live_200_api_503_problem_json():
    dead_db = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    with Gunicorn(workers=1, DATABASE_URL=dead_db, DB_POOL_TIMEOUT="2") as server:
        ready = server.request("GET", "/health/ready/")
        live = server.request("GET", "/health/live/")
        login = server.request("POST", "/api/v1/auth/login/", body={"email": "a@example.com", "password": "x" * 12})

    assert ready[0] == 503
    assert "database" in json.loads(ready[2])["failing"]
    assert live[0] == 200
    assert login[0] == 503
    assert login[1]["Content-Type"] == "application/problem+json"
    assert json.loads(login[2])["code"] == "service_unavailable"
    assert b"Traceback" not in login[2]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_redis_unreachable_ready_503_live_200_api_503_problem_json():
    with Gunicorn(workers=1, REDIS_URL=dead_redis_url()) as server:
        ready = server.request("GET", "/health/ready/")
        live = server.request("GET", "/health/live/")
        # Login is throttled, and throttling reads the cache.
        api = server.request("POST", "/api/v1/auth/login/", body={"email": "a@example.com", "password": "x" * 12})
        detailed = server.request("GET", "/health/detailed/", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert ready[0] == 503
    assert json.loads(ready[2])["failing"] == ["cache"]
    assert live[0] == 200
    assert api[0] == 503
    assert api[1]["Content-Type"] == "application/problem+json"
    assert b"Traceback" not in api[2]
    assert detailed[0] == 503
    assert json.loads(detailed[2])["checks"]["cache"]["status"] == "unhealthy"


@pytest.fixture
def empty_database():
    """A real, reachable PostgreSQL database on which no migration was ever applied."""
    import psycopg

    from tests.support import database_url

    name = f"obs_empty_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(database_url(name="postgres"), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name=name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_unapplied_migrations_make_ready_503_naming_migrations(empty_database):
    with Gunicorn(workers=1, DATABASE_URL=empty_database) as server:
        ready = server.request("GET", "/health/ready/")

    body = json.loads(ready[2])
    assert ready[0] == 503
    assert body["failing"] == ["migrations"]
    assert body["checks"]["database"] == "OK"
    assert "unapplied migration" in body["checks"]["migrations"]
