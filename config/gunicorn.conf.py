"""gunicorn settings: `gunicorn -c config/gunicorn.conf.py config.wsgi`. Every value can be set by environment.

This file reads os.environ itself: gunicorn's master loads it before Django (and config/env.py's settings) exist.

Metrics: with several workers, set PROMETHEUS_MULTIPROC_DIR in the environment before gunicorn starts (not
from Python: prometheus_client reads it at import). The master empties it at start; each worker names its files
by a worker id (1..workers) that a replacement worker takes over, so one scrape of /metrics sums every worker and
recycled workers leave no files behind (common.prometheus_dir.use_worker_id).
"""

import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root, for common.* below

from common import prometheus_dir, shutdown  # after the path above

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# On SIGTERM the master first marks itself draining (/health/ready/ answers 503 in every worker) and keeps serving
# this many seconds, so that a load balancer probing readiness stops sending; then the usual graceful stop: sockets
# closed, workers finish their requests within graceful_timeout. 0: stop at once (Kubernetes' preStop sleep
# already covers the endpoint removal; see docs/operations.md, "Zero-downtime releases").
drain_seconds = float(os.environ.get("GUNICORN_DRAIN_SECONDS", "0"))
keepalive = 5
# gunicorn 27's control socket (one path per user, ~/.gunicorn/gunicorn.ctl) is not used: two instances on one host
# would share it, and the root filesystem of the production pods is read-only.
control_socket_disable = True
# Never preload: Django's connection pool must be opened in each worker, after the fork.
preload_app = False
# Recycling workers (GUNICORN_MAX_REQUESTS) is safe for metrics: a new worker reuses the files of the one it replaces.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 50
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# X-Forwarded-Proto and the other secure-scheme headers are believed only from the proxies the app trusts for
# X-Forwarded-For: the same TRUSTED_PROXIES list (CIDRs; empty: from nobody). Django validates it at start.
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "")


def _log_format() -> str:
    """As the Django settings decide it: LOG_FORMAT, else json under production settings."""
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.production")
    return os.environ.get("LOG_FORMAT") or ("json" if settings_module.endswith(".production") else "console")


if _log_format() == "json":
    # gunicorn's own lines (boot, worker timeouts and exits) as JSON lines too, for Loki. A logger class rather
    # than logconfig_dict: with logconfig_dict gunicorn builds its access-log fields on every request even when
    # nothing is written (the app writes its own request line; gunicorn's only with GUNICORN_ACCESSLOG).
    from gunicorn.glogging import Logger as _GunicornLogger

    from common.logging import ContextFilter, JsonFormatter, RedactionFilter

    class JsonGunicornLogger(_GunicornLogger):
        """gunicorn's logger with the application's JSON formatter, context and redaction filters."""

        def setup(self, cfg):
            super().setup(cfg)
            context = ContextFilter(
                service="aiassistant-api",
                environment=os.environ.get("ENVIRONMENT", "production"),
                version=os.environ.get("APP_VERSION", "0.1.0"),
            )
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())
                    handler.addFilter(context)
                    handler.addFilter(RedactionFilter())

    logger_class = JsonGunicornLogger


def on_starting(server):
    """Master, before any worker: start from an empty metrics directory (old pids would be summed forever), and
    name the drain marker that readiness looks for (workers inherit the variable)."""
    prometheus_dir.reset(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""))
    # Per master (a USR2 re-exec's new master must not see the old one's marker), unless the operator names one
    # (GUNICORN_DRAIN_FILE: for a preStop hook that touches it).
    default = Path(tempfile.gettempdir()) / f"gunicorn-draining-{os.getpid()}"
    os.environ[shutdown.MARKER_ENV] = os.environ.get("GUNICORN_DRAIN_FILE") or str(default)
    shutdown.reset()
    _drain_on_term(server)


def _drain_on_term(server):
    """SIGTERM: mark draining and, after drain_seconds, gunicorn's own graceful stop (a second SIGTERM: at once)."""
    graceful_stop = server.handle_term

    def handle_term():
        if shutdown.draining() or drain_seconds <= 0:
            shutdown.start_draining()
            graceful_stop()  # raises StopIteration: the master closes its sockets and drains the workers
        shutdown.start_draining()
        server.log.info("Draining: readiness answers 503, serving %.1f s more before the graceful stop", drain_seconds)
        # The timer re-queues SIGTERM into the master's signal queue (thread-safe), which the loop then handles.
        timer = threading.Timer(drain_seconds, server.SIG_QUEUE.put_nowait, args=(signal.SIGTERM,))
        timer.daemon = True
        timer.start()

    server.handle_term = handle_term


def on_exit(server):
    """Master, at the very end: remove the drain marker."""
    shutdown.reset()


def pre_fork(server, worker):
    """Master, before forking a worker: the worker id its metric files carry (the lowest one free)."""
    worker.metrics_id = prometheus_dir.next_worker_id({w.metrics_id for w in server.WORKERS.values()})


def post_fork(server, worker):
    """Worker, right after the fork: metric files by worker id, and tracing threads (never in the master)."""
    prometheus_dir.use_worker_id(worker.metrics_id)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")  # as wsgi.py does
    from common.tracing import setup_tracing

    try:
        setup_tracing()
    except Exception:  # a tracing problem must not stop the worker from serving
        server.log.exception("Tracing setup failed; serving without tracing")


def child_exit(server, worker):
    """Master, when a worker exits: its live gauges go, its counters and histograms stay in the sum."""
    prometheus_dir.mark_dead(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), worker.metrics_id)
