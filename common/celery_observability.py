"""Celery side of observability, connected from CommonConfig.ready() in every process that loads Django.

- Publishing (web): the request id (and any bound execution id) travel in the task message headers.
- Running (worker): task_prerun restores them into the log context, with task name and id.
- Worker processes: tracing is set up after the fork (worker_process_init); the main worker process serves
  Prometheus metrics on WORKER_METRICS_PORT (default 9808) from its own multiprocess directory, so the metrics
  of every pool child are summed in one scrape.
"""

import contextvars
import functools
import inspect
import logging
import os

from celery import signals
from django.conf import settings

from common import logging as log_context
from common import prometheus_dir

logger = logging.getLogger(__name__)

# Context fields that follow a task from the publisher into the worker.
PROPAGATED_FIELDS = ("request_id", "execution_id", "user_id")
_HEADER_PREFIX = "aiassistant_"
_tokens: dict[str, contextvars.Token] = {}


@signals.before_task_publish.connect(weak=False)
def _put_context_in_headers(sender=None, headers=None, **kwargs):
    if headers is None:
        return
    context = log_context.get_context()
    for field in PROPAGATED_FIELDS:
        value = context.get(field)
        if value is not None:
            headers[f"{_HEADER_PREFIX}{field}"] = str(value)


@signals.task_prerun.connect(weak=False)
def _restore_context(sender=None, task_id=None, task=None, args=None, kwargs=None, **extra):
    request = getattr(task, "request", None)
    fields = {"task": getattr(task, "name", None), "task_id": task_id}
    for field in PROPAGATED_FIELDS:
        value = _header(request, f"{_HEADER_PREFIX}{field}")
        if value is not None:
            fields[field] = value
    execution_id = _argument(task, "execution_id", args or (), kwargs or {})
    if execution_id is not None:  # a task about an execution (workflows.run_execution): its lines carry the id
        fields["execution_id"] = str(execution_id)
    log_context.clear()
    _tokens[task_id] = log_context.bind(**fields)


@signals.task_postrun.connect(weak=False)
def _clear_context(sender=None, task_id=None, **kwargs):
    token = _tokens.pop(task_id, None)
    if token is not None:
        try:
            log_context.reset(token)
        except ValueError:  # bound in another context (thread pools): just forget it
            log_context.clear()


@functools.lru_cache(maxsize=256)
def _signature(task_name: str, run) -> inspect.Signature | None:
    try:
        return inspect.signature(run)
    except (TypeError, ValueError):
        return None


def _argument(task, name: str, args, kwargs):
    """The value the task receives for parameter `name`, if it has one."""
    if name in kwargs:
        return kwargs[name]
    signature = _signature(getattr(task, "name", ""), getattr(task, "run", None)) if task is not None else None
    if signature is None or name not in signature.parameters:
        return None
    try:
        return signature.bind_partial(*args, **kwargs).arguments.get(name)
    except TypeError:
        return None


def _header(request, name: str):
    if request is None:
        return None
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


@signals.worker_process_init.connect(weak=False)
def _worker_process_init(**kwargs):
    """Each pool child: tracing after the fork (BatchSpanProcessor's thread must live in the child)."""
    from common.tracing import setup_tracing

    setup_tracing()


@signals.worker_process_shutdown.connect(weak=False)
def _worker_process_shutdown(pid=None, **kwargs):
    prometheus_dir.mark_dead(settings.PROMETHEUS_MULTIPROC_DIR, pid or os.getpid())


@signals.worker_init.connect(weak=False)
def _worker_init(**kwargs):
    """Main worker process, before the pool forks: empty the multiprocess directory and serve metrics."""
    # The main process runs tasks itself with the solo/threads pools: trace there too.
    from common.tracing import setup_tracing

    setup_tracing()
    if not settings.WORKER_METRICS_PORT:
        return
    prometheus_dir.reset(settings.PROMETHEUS_MULTIPROC_DIR)
    start_worker_metrics_server(settings.WORKER_METRICS_PORT)


# Prometheus scrapes the worker from the network (the pod address), so it listens on every interface.
WORKER_HEALTH_PATH = "/healthz"


def guarded_metrics_app(metrics_app):
    """The worker's metrics WSGI app behind the same rule as the web's /metrics: `Authorization: Bearer
    <METRICS_TOKEN>`, or a connecting address in METRICS_ALLOWED_IPS (nothing proxies this port, so the socket's
    peer is the client; X-Forwarded-For is never read). Else 401 (no or wrong token) or 403.

    WORKER_HEALTH_PATH answers "ok" to anyone, with no metrics: the kubelet's liveness probe cannot send a secret.
    """
    from common.metrics_view import address_allowed, bearer_header_valid

    def app(environ, start_response):
        if environ.get("PATH_INFO") == WORKER_HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        header = environ.get("HTTP_AUTHORIZATION", "")
        if bearer_header_valid(header) or address_allowed(environ.get("REMOTE_ADDR", "")):
            return metrics_app(environ, start_response)
        if header or not settings.METRICS_ALLOWED_IPS:
            start_response(
                "401 Unauthorized",
                [("Content-Type", "application/json"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b'{"detail": "A valid metrics token is required."}']
        start_response("403 Forbidden", [("Content-Type", "application/json")])
        return [b'{"detail": "This address may not read metrics."}']

    return app


def start_worker_metrics_server(port: int, addr: str = "0.0.0.0"):  # noqa: S104  # nosec B104
    """Serve the worker's metrics (all pool children in multiprocess mode) on an HTTP port, behind METRICS_TOKEN."""
    import threading
    from wsgiref.simple_server import make_server

    from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app, multiprocess
    from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

    registry = REGISTRY
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_IPS:
        logger.warning("Worker metrics on port %s answer 401 to every scrape: METRICS_TOKEN is not set", port)
    server = make_server(
        addr, port, guarded_metrics_app(make_wsgi_app(registry)), ThreadingWSGIServer, handler_class=_SilentHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True)
    thread.start()
    logger.info("Worker metrics on port %s", port)
    return server, thread
