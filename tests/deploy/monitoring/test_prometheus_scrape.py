"""Integration: a real Prometheus scrapes a real gunicorn (3 workers, multiprocess mode) with the bearer token.

The scrape job is the committed `aiassistant-web` job of deploy/monitoring/prometheus/prometheus.yml, pointed at
the test server and a token file; the scraped series are read back through Prometheus' HTTP API.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.monitoring.conftest import MONITORING, REPO, Prometheus, http_get
from tests.support import free_port, wait_for

pytestmark = pytest.mark.slow

TOKEN = "scrape-test-token-0123456789"
HEALTH_REQUESTS = 7
NOT_FOUND_REQUESTS = 11


def _web_job(name: str, target: str, token_file: Path) -> dict:
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "aiassistant-web")
    job = {**job, "job_name": name, "scrape_interval": "1s", "scrape_timeout": "1s"}
    job.pop("dns_sd_configs")  # production discovers the replicas of "web"; here there is one local server
    job["static_configs"] = [{"targets": [target]}]
    job["authorization"] = {**job["authorization"], "credentials_file": str(token_file)}
    return job


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn serving config.wsgi on a free port; stopped with its whole process group afterwards."""
    port = free_port()
    multiproc = tmp_path / "multiproc"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "3",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "METRICS_TOKEN": TOKEN,
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: teardown stops the master and every worker
    )
    url = f"http://127.0.0.1:{port}"

    def metrics_answer():
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        return http_get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    try:
        status, body = wait_for(metrics_answer, timeout=30, message="gunicorn to answer /metrics")
        assert status == 200, f"/metrics with the token answered {status}: {body[:300]!r}"
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.fixture
def prometheus(tmp_path, gunicorn):
    good = tmp_path / "metrics_token"
    good.write_text(TOKEN)
    bad = tmp_path / "wrong_token"
    bad.write_text("not-the-token")
    target = gunicorn.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [_web_job("aiassistant-web", target, good), _web_job("wrong-token", target, bad)],
    }
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    server = Prometheus(workdir, yaml.safe_dump(config))
    yield server
    server.stop()


def _value(prometheus, expr: str):
    answer = prometheus.query(expr)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_gunicorn_with_the_bearer_token(gunicorn, prometheus):
    for _ in range(HEALTH_REQUESTS):
        assert http_get(f"{gunicorn}/health/live/")[0] == 200
    for index in range(NOT_FOUND_REQUESTS):
        assert http_get(f"{gunicorn}/api/no-such-endpoint-{index}/")[0] == 404

    responses = "django_http_responses_total_by_status_view_method_total"
    health = f'sum({responses}{{job="aiassistant-web", view="health-live", status="200"}})'
    not_found = f'sum({responses}{{job="aiassistant-web", status="404"}})'
    latency = (
        'sum(django_http_requests_latency_seconds_by_view_method_count{job="aiassistant-web", view="health-live"})'
    )

    def scraped_all():
        values = (_value(prometheus, health), _value(prometheus, not_found), _value(prometheus, latency))
        return values if values == (HEALTH_REQUESTS, NOT_FOUND_REQUESTS, HEALTH_REQUESTS) else None

    wait_for(scraped_all, timeout=30, interval=0.5, message="the requests to appear in Prometheus")
    assert _value(prometheus, 'up{job="aiassistant-web"}') == 1
    # Counted across the three workers: one scrape sees every worker's requests (multiprocess mode).
    assert _value(prometheus, health) == HEALTH_REQUESTS


def test_prometheus_with_a_wrong_token_gets_401(gunicorn, prometheus):
    def wrong_token_target():
        status, body = http_get(f"{prometheus.url}/api/v1/targets")
        assert status == 200
        targets = [t for t in json.loads(body)["data"]["activeTargets"] if t["labels"]["job"] == "wrong-token"]
        return targets[0] if targets and targets[0]["health"] == "down" else None

    target = wait_for(wrong_token_target, timeout=30, interval=0.5, message="the wrong-token scrape to fail")
    assert "401" in target["lastError"]
    assert _value(prometheus, 'up{job="wrong-token"}') == 0
