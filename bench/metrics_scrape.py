"""/metrics after many worker restarts: the scrape time and the files the multiprocess directory holds.

Goal (issue 13): with 3 gunicorn workers, after 200 worker restarts, `/metrics` answers in under 100 ms.
gunicorn (production settings, PROMETHEUS_MULTIPROC_DIR set) serves some API and health requests from each
generation of workers; the workers are then stopped with SIGTERM, as max_requests recycling or a timeout would,
and gunicorn replaces them, until `--restarts` workers have been replaced. The scrape is timed before the first
restart and after the last (median of `--scrapes` scrapes each), with the number of files in the directory.

Usage: .venv/bin/python bench/metrics_scrape.py [--restarts 200] [--scrapes 20]
"""

import argparse
import datetime
import os
import platform
import secrets
import signal
import statistics
import tempfile
import time
import urllib.request

import psutil
from harness import base_env, drop_database, gunicorn, gunicorn_processes, manage, recreate_database, write_result

DATABASE = "aiassistant_bench_scrape"
WORKERS = 3
GOAL_MS = 100.0


def _get(url: str, token: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:  # loopback
        response.read()


def _scrape_ms(base: str, token: str, scrapes: int) -> float:
    timings = []
    for _ in range(scrapes):
        begin = time.perf_counter()
        _get(f"{base}/metrics", token)
        timings.append((time.perf_counter() - begin) * 1000)
    return round(statistics.median(timings), 2)


def _workers(master: psutil.Process) -> set[int]:
    return {child.pid for child in master.children()}


def run(restarts: int, scrapes: int) -> dict:
    started = datetime.datetime.now(tz=datetime.UTC)
    token = secrets.token_urlsafe(24)
    directory = tempfile.mkdtemp(prefix="bench-metrics-")
    recreate_database(DATABASE)
    env = base_env(DATABASE, METRICS_TOKEN=token, PROMETHEUS_MULTIPROC_DIR=directory)
    found: dict = {}
    try:
        manage(env, "migrate", "--no-input")
        with gunicorn(env, workers=WORKERS) as base:
            processes = gunicorn_processes(base)
            master = next(p for p in processes if p.ppid() not in {q.pid for q in processes})
            for _ in range(30):
                _get(f"{base}/health/live/")
            found["before"] = {"scrape_ms": _scrape_ms(base, token, scrapes), "files": len(os.listdir(directory))}
            replaced = 0
            while replaced < restarts:
                old = _workers(master)
                for pid in list(old)[: restarts - replaced]:
                    os.kill(pid, signal.SIGTERM)
                    replaced += 1
                deadline = time.monotonic() + 120
                while len(_workers(master) - old) < min(len(old), WORKERS) and time.monotonic() < deadline:
                    time.sleep(0.1)
                for _ in range(6):  # the new generation serves, so it writes its files
                    _get(f"{base}/health/live/")
            found["after"] = {"scrape_ms": _scrape_ms(base, token, scrapes), "files": len(os.listdir(directory))}
    finally:
        drop_database(DATABASE)
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_at_end": os.getloadavg(),
        "workers": WORKERS,
        "restarts": restarts,
        "goal_ms": GOAL_MS,
        **found,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--restarts", type=int, default=200)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    results = run(args.restarts, args.scrapes)
    for moment in ("before", "after"):
        print(f"{moment:6} {results[moment]['scrape_ms']:8.2f} ms per scrape, {results[moment]['files']} files")
    verdict = "meets" if results["after"]["scrape_ms"] < GOAL_MS else "misses"
    print(f"after {results['restarts']} restarts: {verdict} the goal of {GOAL_MS:.0f} ms")
    print(f"written to {write_result('metrics_scrape', results)}")


if __name__ == "__main__":
    main()
