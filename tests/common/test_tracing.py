"""OpenTelemetry: off without an endpoint; one trace from the API request through Celery to outbound HTTP."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.http import JsonResponse
from django.urls import include, path
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from common.tracing import setup_tracing, shutdown_tracing
from projects.models import Role
from tests.common.servers import ROOT
from tests.conftest import client_for
from tests.factories import MembershipFactory, WorkflowFactory

# --- a local HTTP server that remembers the traceparent it received ------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.traceparents.append(self.headers.get("traceparent"))
        data = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, format, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.traceparents = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def spans():
    """Tracing on, spans kept in memory; instrumentation removed afterwards."""
    exporter = InMemorySpanExporter()
    assert setup_tracing(exporter=exporter, simple=True)
    try:
        yield exporter
    finally:
        shutdown_tracing()


def trace_id_of(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


# --- off by default ----------------------------------------------------------------------------------------------

PROBE = """
import json, django
django.setup()
from django.conf import settings
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from common.tracing import setup_tracing
enabled = setup_tracing()
print(json.dumps({
    "enabled": enabled,
    "provider": type(trace.get_tracer_provider()).__name__,
    "otel_middleware": any(m.startswith("opentelemetry") for m in settings.MIDDLEWARE),
    "httpx": HTTPXClientInstrumentor().is_instrumented_by_opentelemetry,
    "psycopg": PsycopgInstrumentor().is_instrumented_by_opentelemetry,
    "observed": [m for m in settings.MIDDLEWARE if m.endswith(("PrometheusMiddleware", "RequestContextMiddleware"))],
    "engine": settings.DATABASES["default"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
}))
"""


def probe(**env) -> dict:
    # The suite's services (pyproject.toml's pytest-env defaults) and nothing else of this process' environment.
    services = {name: os.environ[name] for name in ("DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX")}
    environment = {"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin", **services, **env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_an_endpoint_there_is_no_provider_and_no_instrumentation():
    state = probe()

    assert {key: state[key] for key in ("enabled", "provider", "otel_middleware", "httpx", "psycopg")} == {
        "enabled": False,
        "provider": "ProxyTracerProvider",
        "otel_middleware": False,
        "httpx": False,
        "psycopg": False,
    }


def test_with_an_endpoint_the_sdk_provider_and_instrumentations_are_installed():
    state = probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")

    assert {key: state[key] for key in ("enabled", "provider", "otel_middleware", "httpx", "psycopg")} == {
        "enabled": True,
        "provider": "TracerProvider",
        "otel_middleware": True,
        "httpx": True,
        "psycopg": True,
    }


def test_observability_disabled_wins_over_an_endpoint():
    state = probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OBSERVABILITY_ENABLED="0")

    assert state["enabled"] is False
    assert state["otel_middleware"] is False


def test_observability_on_by_default_wraps_middleware_database_and_cache():
    state = probe()

    assert state["observed"] == ["common.middleware.RequestContextMiddleware", "common.middleware.PrometheusMiddleware"]
    assert state["engine"] == "common.db.observed.postgresql"
    assert state["cache"] == "django_prometheus.cache.backends.redis.RedisCache"


def test_observability_disabled_removes_middleware_and_wrappers():
    state = probe(OBSERVABILITY_ENABLED="0")

    assert state["observed"] == []
    assert state["engine"] == "common.db.postgresql"
    assert state["cache"] == "django_redis.cache.RedisCache"


# --- one request: server span and outbound client span in one trace ---------------------------------------------


def call_upstream(request):
    """Test view: one outbound httpx call to the URL in ?to=."""
    response = httpx.get(request.GET["to"], timeout=5)
    return JsonResponse({"status": response.status_code})


urlpatterns = [path("outbound/", call_upstream, name="test-outbound"), path("", include("config.urls"))]


@pytest.mark.urls("tests.common.test_tracing")
@pytest.mark.django_db
def test_a_request_and_its_outbound_call_share_one_trace(spans, upstream, client):
    response = client.get("/outbound/", {"to": upstream.url})

    assert response.status_code == 200
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER]
    (outbound,) = [s for s in finished if s.kind == SpanKind.CLIENT and s.name.startswith("GET")]
    assert outbound.context.trace_id == server.context.trace_id
    assert outbound.parent.span_id == server.context.span_id
    assert server.attributes.get("http.route") == "outbound/"
    assert trace_id_of(upstream.traceparents[0]) == server.context.trace_id


@pytest.mark.django_db
def test_log_lines_carry_the_trace_and_span_ids(spans, user):
    from tests.common.test_logging import JsonCapture

    with JsonCapture("aiassistant.request") as capture:
        client_for(user).get("/api/v1/projects/")

    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    (record,) = capture.records
    assert record["trace_id"] == format(server.context.trace_id, "032x")
    assert record["span_id"] == format(server.context.span_id, "016x")


# --- the full path: API request -> Celery task -> the workflow's outbound HTTP call -----------------------------


@pytest.fixture
def in_process_worker(transactional_db, settings):
    """config.celery.app consuming a queue of its own on the real Redis broker, in a thread of this process."""
    from config.celery import app

    queue = f"obs-trace-{uuid.uuid4().hex[:10]}"
    settings.WORKFLOW_EXECUTION_QUEUE = queue
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False, shutdown_timeout=20):
        yield queue


@pytest.mark.slow
def test_an_execution_is_one_trace_from_request_to_task_to_outbound_call(spans, in_process_worker, upstream):
    from workflows.models import Execution

    membership = MembershipFactory(role=Role.EDITOR)
    definition = {
        "steps": [{"id": "call", "type": "http", "config": {"method": "POST", "url": upstream.url, "json": {}}}],
        "output": {"status": "{{ steps.call.output.status_code }}"},
    }
    workflow = WorkflowFactory(project=membership.project, definition=definition)

    started = client_for(membership.user).post(
        f"/api/v1/workflows/{workflow.pk}/executions/", {"input": {}}, format="json"
    )
    assert started.status_code == 202, started.content

    deadline = time.monotonic() + 30
    while Execution.objects.get(pk=started.json()["id"]).status not in ("completed", "failed"):
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.1)

    assert Execution.objects.get(pk=started.json()["id"]).status == "completed"
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER and "executions" in s.name]
    producer = [s for s in finished if s.kind == SpanKind.PRODUCER]
    consumer = [s for s in finished if s.kind == SpanKind.CONSUMER and "run_execution" in s.name]
    outbound = [s for s in finished if s.kind == SpanKind.CLIENT and s.name.startswith("POST")]
    trace_id = server.context.trace_id
    assert producer and consumer and outbound
    assert {s.context.trace_id for s in [*producer, *consumer, *outbound]} == {trace_id}
    assert trace_id_of(upstream.traceparents[0]) == trace_id
