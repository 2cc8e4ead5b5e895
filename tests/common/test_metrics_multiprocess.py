"""Multiprocess metrics under a real gunicorn with 3 workers: one scrape counts every worker's requests."""

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from common import logging as log_context
from projects.models import Role
from tests.common.servers import Gunicorn
from tests.factories import MembershipFactory, WorkflowFactory
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REQUESTS = 60


def sample_sum(text: str, name: str, **labels) -> float:
    """Sum of the samples called `name` whose labels include `labels` (across every worker's files)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@pytest.fixture
def gunicorn_3_workers(tmp_path):
    with Gunicorn(workers=3, multiproc_dir=str(tmp_path / "metrics")) as server:
        yield server


def test_one_scrape_counts_the_requests_of_all_three_workers(gunicorn_3_workers):
    server = gunicorn_3_workers
    # Concurrent clients, so that every worker serves some of them.
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: server.request("GET", "/health/live/")[0], range(REQUESTS)))
    assert statuses == [200] * REQUESTS

    text = server.scrape()

    counted = sample_sum(
        text, "django_http_responses_total_by_status_view_method_total", view="health-live", method="GET", status="200"
    )
    assert counted == REQUESTS
    # The requests really were spread: more than one worker wrote metric files.
    pids = {name.rsplit("_", 1)[-1].split(".")[0] for name in os.listdir(server.multiproc_dir)}
    assert len(pids) > 1


def test_product_counters_are_summed_across_workers(gunicorn_3_workers):
    server = gunicorn_3_workers
    # Four: one fewer than the sign-in lockout's limit (AXES_FAILURE_LIMIT, 5), which would answer 429 instead.
    for _ in range(4):
        status, _, _ = server.request(
            "POST", "/api/v1/auth/login/", body={"email": "nobody@example.com", "password": "wrong-password-1"}
        )
        assert status == 401

    text = server.scrape()

    assert sample_sum(text, "aiassistant_login_attempts_total", result="failure") == 4


def test_labels_are_view_names_not_raw_paths(gunicorn_3_workers):
    server = gunicorn_3_workers
    server.request("GET", "/api/v1/projects/0b6e1d2c-1111-4222-8333-944455556666/")

    text = server.scrape()

    assert "0b6e1d2c-1111-4222-8333-944455556666" not in text
    assert sample_sum(text, "django_http_responses_total_by_status_view_method_total", view="v1:project-detail") == 1


def test_database_metrics_come_from_the_pooled_prometheus_engine(gunicorn_3_workers):
    server = gunicorn_3_workers
    assert server.request("GET", "/health/ready/")[0] == 200

    text = server.scrape()

    assert sample_sum(text, "django_db_execute_total", alias="default", vendor="postgresql") > 0
    assert sample_sum(text, "django_migrations_unapplied_total", connection="default") == 0
    assert sample_sum(text, "django_migrations_applied_total", connection="default") > 0


# --- Celery workers: their own port (WORKER_METRICS_PORT), every pool child summed ------------------------------


WORKER_TOKEN = "worker-metrics-test-token-0123456789"


@pytest.fixture
def worker_with_metrics(tmp_path, settings):
    import redis

    from tests.support import database_url
    from tests.workers import Worker

    queue = f"obs-worker-{uuid.uuid4().hex[:10]}"
    settings.WORKFLOW_EXECUTION_QUEUE = queue
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "WORKFLOW_EXECUTION_QUEUE": queue,
        "WORKER_METRICS_PORT": str(port),
        "METRICS_TOKEN": WORKER_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics"),
        "LOG_FORMAT": "json",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    worker = Worker(env, queue, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        worker.metrics_url = f"http://127.0.0.1:{port}/metrics"
        yield worker
    finally:
        worker.stop()
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        client.delete(queue)
        client.close()


def test_worker_metrics_port_sums_the_executions_of_its_pool_children(worker_with_metrics):
    from workflows.models import Execution
    from workflows.services import execution_start

    membership = MembershipFactory(role=Role.EDITOR)
    workflow = WorkflowFactory(project=membership.project)
    with log_context.bound(request_id="req-into-worker"):
        ids = [
            execution_start(role=Role.EDITOR, workflow=workflow, input={"name": f"n{i}"}, actor=membership.user)[0].pk
            for i in range(4)
        ]

    deadline = time.monotonic() + 60
    while Execution.objects.filter(pk__in=ids, status="completed").count() < len(ids):
        assert time.monotonic() < deadline, worker_with_metrics.log()[-3000:]
        time.sleep(0.2)

    bearer = {"Authorization": f"Bearer {WORKER_TOKEN}"}
    text = httpx.get(worker_with_metrics.metrics_url, headers=bearer, timeout=10).text
    assert sample_sum(text, "aiassistant_workflow_executions_total", status="completed") == len(ids)
    assert sample_sum(text, "aiassistant_workflow_step_duration_seconds_count", step_type="transform") == 3 * len(ids)
    # The worker's JSON lines about each execution carry its id and the publisher's request id.
    lines = [json.loads(line) for line in worker_with_metrics.log().splitlines() if line.startswith("{")]
    finished = [line for line in lines if line["logger"] == "aiassistant.workflows" and "completed" in line["message"]]
    assert {line["execution_id"] for line in finished} == {str(pk) for pk in ids}
    assert {line["request_id"] for line in finished} == {"req-into-worker"}
    assert {line["task"] for line in finished} == {"workflows.run_execution"}


def test_recycled_workers_reuse_their_files_and_keep_the_counts(gunicorn_3_workers):
    """Workers name their files by worker id (1..3): restarts add no files, and no request is lost from the sum."""
    import psutil

    server = gunicorn_3_workers
    master = psutil.Process(server.process.pid)
    served = 0
    for _ in range(3):  # three rounds of killing every worker: nine restarts
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: server.request("GET", "/health/live/")[0], range(12)))
        assert statuses == [200] * 12
        served += 12
        old = {child.pid for child in master.children()}
        for pid in old:
            os.kill(pid, 15)
        deadline = time.monotonic() + 60
        while True:
            now = {child.pid for child in master.children()}
            if len(now) == 3 and not now & old:
                break
            assert time.monotonic() < deadline, "gunicorn did not replace its workers"
            time.sleep(0.2)
    text = server.scrape()
    counted = sample_sum(
        text, "django_http_responses_total_by_status_view_method_total", view="health-live", method="GET", status="200"
    )
    assert counted == served  # every request of the dead workers is still in the sum
    identifiers = {name.rsplit("_", 1)[-1].split(".")[0] for name in os.listdir(server.multiproc_dir)}
    assert identifiers <= {"1", "2", "3"}, identifiers


def test_worker_metrics_port_requires_the_metrics_token(worker_with_metrics):
    """Security review, weakness 6: the worker's metrics port answered anyone. A real worker process."""
    url = worker_with_metrics.metrics_url
    anonymous = httpx.get(url, timeout=10)
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    right = httpx.get(url, headers={"Authorization": f"Bearer {WORKER_TOKEN}"}, timeout=10)
    health = httpx.get(url.replace("/metrics", "/healthz"), timeout=10)

    assert (anonymous.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "aiassistant" not in anonymous.text
    assert "# TYPE" in right.text
    assert (health.status_code, health.text) == (200, "ok\n")  # the liveness probe's path, without metrics
