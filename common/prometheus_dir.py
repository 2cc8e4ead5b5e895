"""The lifecycle of the Prometheus multiprocess directory, shared by gunicorn's hooks and the Celery worker.

No Django here: gunicorn's master imports it from its config file, before any settings exist.
"""

import os
import shutil


def reset(directory: str) -> None:
    """Start from an empty directory (files of old pids would be summed forever); nothing when unset."""
    if not directory:
        return
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def mark_dead(directory: str, pid: int) -> None:
    """A process exited: its live gauges go, its counters and histograms stay in the sum."""
    if not directory:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)
