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
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3, 192.0.2.10")

    assert response.status_code == 403


@pytest.mark.django_db
def test_forwarded_for_from_an_untrusted_address_does_not_pass_the_allow_list(client, settings):
    """Security review, weakness 5: port 8000 reached directly with an allowed address in X-Forwarded-For. Before
    the fix (TRUSTED_PROXY_COUNT=1, as deployed) this answered 200."""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.TRUSTED_PROXY_COUNT = 1  # the setting TRUSTED_PROXIES replaced, as deployed (now ignored)
    settings.TRUSTED_PROXIES = ["10.0.0.1/32"]

    response = client.get("/metrics", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="10.1.2.3")

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


RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY_COUNT = "django_http_requests_latency_seconds_by_view_method_count"


def _counted(client, name: str, **labels) -> float:
    return sample_sum(scrape(client), name, **labels)


@pytest.mark.django_db
def test_v1_and_v2_requests_to_the_same_endpoint_are_counted_by_api_version(client, user):
    before_v1 = _counted(client, RESPONSES, view="v1:project-list", api_version="1")
    before_v2 = _counted(client, RESPONSES, view="v2:project-list", api_version="2")

    client_for(user).get("/api/v1/projects/")
    client_for(user).get("/api/v2/projects/")

    text = scrape(client)
    assert sample_sum(text, RESPONSES, view="v1:project-list", api_version="1") - before_v1 == 1
    assert sample_sum(text, RESPONSES, view="v2:project-list", api_version="2") - before_v2 == 1
    assert sample_sum(text, RESPONSES, view="v1:project-list", api_version="2") == 0


@pytest.mark.django_db
def test_negotiated_requests_are_counted_under_the_version_they_got(client, user):
    before = {v: _counted(client, LATENCY_COUNT, view="api:project-list", api_version=v) for v in ("1", "2")}

    client_for(user).get("/api/projects/")  # no header: the default version
    client_for(user).get("/api/projects/", HTTP_API_VERSION="2")

    text = scrape(client)
    assert sample_sum(text, LATENCY_COUNT, view="api:project-list", api_version="1") - before["1"] == 1
    assert sample_sum(text, LATENCY_COUNT, view="api:project-list", api_version="2") - before["2"] == 1


@pytest.mark.django_db
def test_requests_outside_the_api_have_an_empty_api_version(client):
    before = _counted(client, RESPONSES, view="health-live", api_version="")

    client.get("/health/live/")

    text = scrape(client)
    assert sample_sum(text, RESPONSES, view="health-live", api_version="") - before == 1
    assert sample_sum(text, LATENCY_COUNT, view="health-live", api_version="") >= 1


@pytest.mark.django_db
@pytest.mark.urls("tests.common.urls_boom")
def test_a_request_that_raises_is_one_response_and_one_latency_sample(client, api_client):
    view = "tests.common.urls_boom.BoomApi"
    text = scrape(client)
    before = [sample_sum(text, name, view=view) for name in (RESPONSES, LATENCY_COUNT)]
    exceptions = sample_sum(text, "django_http_exceptions_total_by_type_total", type="RuntimeError")

    assert api_client.get("/api/v1/boom/").status_code == 500

    text = scrape(client)
    assert [sample_sum(text, name, view=view) for name in (RESPONSES, LATENCY_COUNT)] == [b + 1 for b in before]
    assert sample_sum(text, RESPONSES, view=view, status="500", api_version="1") >= 1
    assert sample_sum(text, "django_http_exceptions_total_by_type_total", type="RuntimeError") == exceptions + 1


@pytest.mark.django_db
def test_only_the_request_series_the_middleware_writes_are_exported(client):
    client.get("/health/live/")

    # The text format also has a *_created gauge per series (prometheus_client's timestamps): not a metric of ours.
    exported = {name.removesuffix("_created") for name in families(scrape(client)) if name.startswith("django_http_")}

    assert exported == {
        "django_http_requests_total_by_view_transport_method",
        "django_http_responses_total_by_status_view_method",
        "django_http_requests_latency_seconds_by_view_method",
        "django_http_exceptions_total_by_type",
        "django_http_exceptions_total_by_view",
    }


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


@pytest.fixture
def worker_metrics_server():
    """The worker's metrics server (common.celery_observability), in this process, on a free port."""
    from common.celery_observability import start_worker_metrics_server
    from tests.support import free_port

    port = free_port()
    server, thread = start_worker_metrics_server(port, addr="127.0.0.1")
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_worker_metrics_without_a_token_setting_answer_nobody(settings, worker_metrics_server):
    import httpx

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    any_token = {"Authorization": "Bearer x"}  # there is no token to match

    assert httpx.get(f"{worker_metrics_server}/metrics", timeout=5).status_code == 401
    assert httpx.get(f"{worker_metrics_server}/metrics", headers=any_token, timeout=5).status_code == 401


def test_worker_metrics_follow_the_allow_list_of_the_connecting_address(settings, worker_metrics_server):
    import httpx

    settings.METRICS_TOKEN = "t0ken-for-this-test"
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]  # not read here: nothing proxies the worker's port
    forged = {"X-Forwarded-For": "10.1.2.3"}

    assert httpx.get(f"{worker_metrics_server}/metrics", headers=forged, timeout=5).status_code == 403
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1/32"]
    assert httpx.get(f"{worker_metrics_server}/metrics", timeout=5).status_code == 200
