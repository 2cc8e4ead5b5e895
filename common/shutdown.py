"""Graceful shutdown of the web process: readiness answers 503 from the moment gunicorn's master gets SIGTERM.

The master (config/gunicorn.conf.py) names a marker file in GUNICORN_DRAIN_MARKER before it forks any worker, and
creates the file on SIGTERM; then it keeps serving for GUNICORN_DRAIN_SECONDS (a load balancer that probes
/health/ready/ sees 503 and stops sending) before it closes its sockets and gives the workers graceful_timeout to
finish their requests. A file, because it is the one thing the master and every worker (and a preStop hook) share
without a new dependency; a stat() per readiness probe costs nothing.
"""

import os
from pathlib import Path

MARKER_ENV = "GUNICORN_DRAIN_MARKER"


def marker_path() -> Path | None:
    """The drain marker of this gunicorn (None outside gunicorn: runserver, Celery, tests in process)."""
    value = os.environ.get(MARKER_ENV, "")
    return Path(value) if value else None


def draining() -> bool:
    """True once the master has started shutting down (its marker file exists)."""
    path = marker_path()
    return path is not None and path.exists()


def start_draining() -> None:
    """Create the marker (the master, on SIGTERM): readiness answers 503 in every worker from now on."""
    path = marker_path()
    if path is not None:
        path.touch()


def reset() -> None:
    """Remove a marker left by an earlier master with the same path (the master, at start)."""
    path = marker_path()
    if path is not None:
        path.unlink(missing_ok=True)
