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
    """A process exited: its live gauges go, its counters and histograms stay in the sum.

    `pid` is the process's identifier in the file names: its pid, or its worker id under gunicorn.
    """
    if not directory:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)


def next_worker_id(in_use: set[int]) -> int:
    """The lowest worker id (1, 2, ...) that no live worker holds."""
    worker_id = 1
    while worker_id in in_use:
        worker_id += 1
    return worker_id


def use_worker_id(worker_id: int) -> None:
    """Name this process's metric files by its worker id instead of its pid (call before any metric exists).

    gunicorn recycles workers (max_requests, timeouts, crashes); with pids, every recycled worker left its files
    behind and each scrape read them all, slower with every restart. A new worker takes the id a dead one
    freed and reopens its files: counters and histograms go on from the dead worker's values (they stay
    monotonic), and the number of files stays that of the live workers. authentik does the same.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # single-process metrics: values live in memory, there are no files to name
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: worker_id)
