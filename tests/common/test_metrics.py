"""/metrics access rules, request/product metrics and the scrape-time collectors (in-process)."""

import logging
import uuid

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from common import metrics
from tests.common.test_metrics_multiprocess import sample_sum
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

TOKEN = "in-process-metrics-token-0123456789"


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


@pytest.fixture(autouse=True)
def _fresh_active_user_memo():
    metrics._last_written.clear()


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


# --- access ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_without_credentials_is_401(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_metrics_with_a_wrong_token_is_401(client):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401


@pytest.mark.django_db
def test_metrics_from_an_address_outside_the_allow_list_is_403(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="192.0.2.10").status_code == 403


@pytest.mark.django_db
def test_metrics_from_an_allowed_address_is_200(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


@pytest.mark.django_db
def test_forged_forwarded_for_does_not_pass_the_allow_list(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.TRUSTED_PROXY_COUNT = 1

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3, 192.0.2.10")

    assert response.status_code == 403


@pytest.mark.django_db
def test_metrics_with_the_token_is_exposition_text(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_a_missing_extra_collector_is_skipped_with_a_warning(client, settings, caplog):
    settings.METRICS_EXTRA_COLLECTORS = ["nowhere.metrics.Collector"]

    with caplog.at_level(logging.WARNING, logger="common.metrics_view"):
        text = scrape(client)

    assert "aiassistant_active_users" in families(text)
    assert "nowhere.metrics.Collector" in caplog.text


# --- request, database and cache metrics -----------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_labelled_by_view_name_never_by_path(client, user):
    project_id = uuid.uuid4()
    before = sample_sum(
        scrape(client), "django_http_responses_total_by_status_view_method_total", view="v1:project-detail"
    )

    client_for(user).get(f"/api/v1/projects/{project_id}/")

    text = scrape(client)
    after = sample_sum(text, "django_http_responses_total_by_status_view_method_total", view="v1:project-detail")
    assert after - before == 1
    assert str(project_id) not in text


@pytest.mark.django_db
def test_database_and_cache_metrics_are_exported(client, user):
    client_for(user).get("/api/v1/projects/")

    text = scrape(client)

    assert sample_sum(text, "django_db_execute_total", alias="default", vendor="postgresql") > 0
    assert sample_sum(text, "django_cache_get_total", backend="redis") > 0


# --- product metrics -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_attempts_are_counted_by_result(client, api_client):
    user = UserFactory()
    text = scrape(client)
    failures = sample_sum(text, "aiassistant_login_attempts_total", result="failure")
    successes = sample_sum(text, "aiassistant_login_attempts_total", result="success")

    api_client.post("/api/v1/auth/login/", {"email": user.email, "password": "wrong-password-123"})
    api_client.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD})

    text = scrape(client)
    assert sample_sum(text, "aiassistant_login_attempts_total", result="failure") == failures + 1
    assert sample_sum(text, "aiassistant_login_attempts_total", result="success") == successes + 1


@pytest.mark.django_db
def test_active_users_counts_distinct_users_seen_in_the_last_15_minutes(client):
    first, second = UserFactory(), UserFactory()

    client_for(first).get("/api/v1/projects/")
    client_for(first).get("/api/v1/projects/")
    client_for(second).get("/api/v1/projects/")

    assert sample_sum(scrape(client), "aiassistant_active_users") == 2


@pytest.mark.django_db
def test_users_seen_more_than_15_minutes_ago_are_not_active():
    metrics.user_seen("old-user", now=1_000_000.0)
    metrics.user_seen("recent-user", now=1_000_000.0 + 14 * 60)

    assert metrics.active_users_count(now=1_000_000.0 + 16 * 60) == 1


@pytest.mark.django_db
def test_celery_queue_length_reads_the_redis_broker(client, settings):
    queue = f"obs-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL = settings.CACHES["default"]["LOCATION"]
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        broker.lpush(queue, "a", "b", "c")
        broker.lpush(f"{queue}\x06\x163", "high-priority")

        text = scrape(client)

        assert sample_sum(text, "aiassistant_celery_queue_length", queue=queue) == 4
    finally:
        broker.delete(queue, f"{queue}\x06\x163")


@pytest.mark.django_db
def test_celery_queue_length_is_absent_for_a_non_redis_broker(client, settings):
    settings.CELERY_BROKER_URL = "amqp://guest@127.0.0.1:5672//"

    assert "aiassistant_celery_queue_length" not in families(scrape(client))


@pytest.mark.django_db
def test_migration_gauges_show_none_unapplied(client):
    text = scrape(client)

    assert sample_sum(text, "django_migrations_unapplied_total", connection="default") == 0
    assert sample_sum(text, "django_migrations_applied_total", connection="default") > 0


def test_product_metric_names_are_prefixed_and_labels_bounded():
    names = [
        metrics.WORKFLOW_EXECUTIONS,
        metrics.WORKFLOW_EXECUTION_DURATION,
        metrics.WORKFLOW_STEP_DURATION,
        metrics.WORKFLOW_STEP_FAILURES,
        metrics.LLM_TOKENS,
        metrics.LOGIN_ATTEMPTS,
    ]
    forbidden = {"user", "user_id", "project", "project_id", "workflow", "workflow_id", "execution_id", "path"}

    for metric in names:
        assert metric._name.startswith("aiassistant_")
        assert not forbidden & set(metric._labelnames)
