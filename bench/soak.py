"""Soak: the mixed API load (list, detail, execute, poll) at a fraction of the measured peak for a long time, with
the error count and the resident memory of every process at the start and at the end.

Setup: production settings on PostgreSQL (a database of its own, dropped at the end), gunicorn (2 workers) and one
Celery worker (prefork, 2 processes) on the local Redis. Then:
1. peak: CLIENTS closed-loop threads run the mixed cycle as fast as they can for --peak-seconds; operations/s.
2. soak: the same threads, paced (open loop, absolute schedule) at --fraction of that peak for --duration seconds.
   An operation that does not answer its expected status (200, or 202 for execute) is an error; so is an execution
   not completed by the end. RSS of the gunicorn master and workers and of the Celery main and pool processes is
   taken after a warm-up and at the end (and every --sample seconds in between, for the shape).

Usage: .venv/bin/python bench/soak.py [--duration 600] [--fraction 0.7] [--peak-seconds 20] [--clients 8]
"""

import argparse
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import psutil
from harness import (
    Worker,
    base_env,
    drop_database,
    gunicorn,
    gunicorn_processes,
    manage,
    recreate_database,
    write_result,
)

PASSWORD = "bench-password-Soak-42!"
SEED = """
from accounts.models import User
from projects.services import project_create
from workflows.services import workflow_create
user = User.objects.create_user(email="soak@example.com", password="{password}")
project = project_create(name="Soak", actor=user)
definition = {{"steps": [
    {{"id": "greet", "type": "transform", "config": {{"value": {{"message": "Hello {{{{ input.name }}}}"}}}}}},
    {{"id": "shout", "type": "transform", "depends_on": ["greet"],
      "config": {{"value": "{{{{ steps.greet.output.message | upper }}}}"}}}}]}}
workflow = workflow_create(project=project, role="owner", name="soak", definition=definition, actor=user)
print(project.id, workflow.id)
"""
OPERATIONS = ("list", "detail", "execute", "poll")


class Session:
    """The clients' shared sign-in, refreshed a minute before the access token expires (as a real client does: the
    access token lives JWT_ACCESS_MINUTES, 5 by default, shorter than the soak). One refresh at a time, since a
    refresh token is single-use (its family is revoked on reuse)."""

    def __init__(self, base: str, email: str, password: str):
        self.base, self.lock, self.refreshes = base, threading.Lock(), 0
        self._store(self._post("/api/v1/auth/login/", {"email": email, "password": password}))

    def _post(self, path: str, body: dict) -> dict:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        request = urllib.request.Request(self.base + path, method="POST", data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return json.load(response)

    def _store(self, tokens: dict) -> None:
        self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]
        self.renew_at = time.monotonic() + tokens["expires_in"] - 60

    def token(self) -> str:
        with self.lock:
            if time.monotonic() >= self.renew_at:
                self._store(self._post("/api/v1/auth/refresh/", {"refresh_token": self.refresh}))
                self.refreshes += 1
            return self.access


class Client:
    """One load thread's HTTP calls; every unexpected answer or exception is counted as an error."""

    def __init__(
        self, base: str, session: Session, project_id: str, workflow_id: str, stats: dict, lock: threading.Lock
    ):
        self.base, self.session, self.project_id, self.workflow_id = base, session, project_id, workflow_id
        self.stats, self.lock = stats, lock
        self.last_execution: str | None = None
        self.cycle = itertools.cycle(OPERATIONS)
        self.n = itertools.count()

    def _call(self, method: str, path: str, expected: int, body: dict | None = None) -> dict | None:
        try:
            request = urllib.request.Request(
                self.base + path,
                method=method,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Bearer {self.session.token()}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, None
        except OSError as exc:
            status, payload = repr(exc), None
        with self.lock:
            self.stats["operations"] += 1
            if status != expected:
                self.stats["errors"] += 1
                if len(self.stats["error_samples"]) < 10:
                    self.stats["error_samples"].append(f"{method} {path}: {status}")
                return None
        return payload

    def one(self) -> None:
        operation = next(self.cycle)
        if operation == "list":
            self._call("GET", f"/api/v1/projects/{self.project_id}/workflows/", 200)
        elif operation == "detail":
            self._call("GET", f"/api/v1/workflows/{self.workflow_id}/", 200)
        elif operation == "execute":
            body = {"input": {"name": f"soak {next(self.n)}"}}
            started = self._call("POST", f"/api/v1/workflows/{self.workflow_id}/executions/", 202, body)
            if started:
                self.last_execution = started["id"]
                with self.lock:
                    self.stats["executions"].append(started["id"])
        elif self.last_execution:
            self._call("GET", f"/api/v1/executions/{self.last_execution}/", 200)


def run_load(clients: list[Client], seconds: float, rate: float | None) -> None:
    """Each client runs for `seconds`: closed loop when rate is None, else paced to rate/len(clients) per second."""
    stop_at = time.monotonic() + seconds

    def loop(client: Client) -> None:
        interval = len(clients) / rate if rate else 0.0
        next_at = time.monotonic()
        while time.monotonic() < stop_at:
            client.one()
            if interval:
                next_at += interval  # an absolute schedule: a slow answer is caught up on, not dropped
                time.sleep(max(next_at - time.monotonic(), 0))

    threads = [threading.Thread(target=loop, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def worker_processes(worker: Worker) -> list[psutil.Process]:
    main = psutil.Process(worker.proc.pid)
    return [main, *main.children(recursive=True)]


def rss_snapshot(base: str, worker: Worker) -> dict:
    """{role pid: RSS in MiB} of the gunicorn master and workers and the Celery main and pool processes."""
    snapshot = {}
    web = gunicorn_processes(base)
    web_pids = {process.pid for process in web}
    for process in web:
        role = "gunicorn-worker" if process.ppid() in web_pids else "gunicorn-master"
        snapshot[f"{role} {process.pid}"] = round(process.memory_info().rss / 2**20, 1)
    for process in worker_processes(worker):
        if process.pid == worker.proc.pid:
            role = "celery-main"
        else:  # the prefork pool, and the template renderer children of its processes (workflows/templating)
            role = "celery-pool" if process.ppid() == worker.proc.pid else "celery-pool-child"
        snapshot[f"{role} {process.pid}"] = round(process.memory_info().rss / 2**20, 1)
    return dict(sorted(snapshot.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600, help="soak seconds (default 600)")
    parser.add_argument("--fraction", type=float, default=0.7, help="of the measured peak (default 0.7)")
    parser.add_argument("--peak-seconds", type=float, default=20)
    parser.add_argument("--warmup-seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sample", type=float, default=60, help="RSS sample interval in seconds")
    args = parser.parse_args()

    database, queue = "aiassistant_bench_soak", f"soak-{uuid.uuid4().hex[:8]}"
    recreate_database(database)
    env = base_env(database, WORKER_METRICS_PORT="0", WORKFLOW_EXECUTION_QUEUE=queue)
    worker = None
    try:
        manage(env, "migrate", "--no-input")
        project_id, workflow_id = manage(env, "shell", "-c", SEED.format(password=PASSWORD)).split()[-2:]
        worker = Worker(env, queue, 2)
        with gunicorn(env) as base:
            session = Session(base, "soak@example.com", PASSWORD)
            lock = threading.Lock()

            def clients(stats):
                return [Client(base, session, project_id, workflow_id, stats, lock) for _ in range(args.clients)]

            def new_stats():
                return {"operations": 0, "errors": 0, "error_samples": [], "executions": []}

            peak_stats = new_stats()
            run_load(clients(peak_stats), args.warmup_seconds, None)  # warm-up: imports, pools, caches
            peak_stats = new_stats()
            started = time.monotonic()
            run_load(clients(peak_stats), args.peak_seconds, None)
            peak = peak_stats["operations"] / (time.monotonic() - started)
            target = peak * args.fraction
            print(f"peak mixed load: {peak:.1f} op/s ({args.clients} closed-loop clients); soak at {target:.1f} op/s")

            # Let the peak's executions finish before the first memory reading.
            time.sleep(3)
            rss_start = rss_snapshot(base, worker)
            soak_stats = new_stats()
            samples = [{"at_seconds": 0, "rss_mib": rss_start}]
            soak_clients = clients(soak_stats)
            loader = threading.Thread(target=run_load, args=(soak_clients, args.duration, target))
            started = time.monotonic()
            loader.start()
            while loader.is_alive():
                loader.join(timeout=args.sample)
                if loader.is_alive():
                    at = round(time.monotonic() - started)
                    samples.append({"at_seconds": at, "rss_mib": rss_snapshot(base, worker)})
            soak_seconds = time.monotonic() - started
            rss_end = rss_snapshot(base, worker)
            samples.append({"at_seconds": round(soak_seconds), "rss_mib": rss_end})
            not_completed = executions_not_completed(env, soak_stats["executions"])
    finally:
        if worker is not None:
            worker.stop()
        drop_database(database)

    errors = soak_stats["errors"] + not_completed
    results = {
        "duration_seconds": round(soak_seconds, 1),
        "peak_operations_per_second": round(peak, 1),
        "target_operations_per_second": round(target, 1),
        "achieved_operations_per_second": round(soak_stats["operations"] / soak_seconds, 1),
        "operations": soak_stats["operations"],
        "executions": len(soak_stats["executions"]),
        "request_errors": soak_stats["errors"],
        "token_refreshes": session.refreshes,
        "executions_not_completed": not_completed,
        "errors": errors,
        "error_samples": soak_stats["error_samples"],
        "rss_mib_start": rss_start,
        "rss_mib_end": rss_end,
        "rss_mib_delta": {k: round(rss_end[k] - v, 1) for k, v in rss_start.items() if k in rss_end},
        "processes_replaced": sorted(set(rss_start) ^ set(rss_end)),
        "rss_samples": samples,
        "clients": args.clients,
        "fraction": args.fraction,
        "cpus": os.cpu_count(),
        "command": "python bench/soak.py " + " ".join(sys.argv[1:]),
    }
    print(
        f"soak {results['duration_seconds']} s at {results['achieved_operations_per_second']}/s "
        f"(target {results['target_operations_per_second']}/s): {results['operations']} operations, "
        f"{results['executions']} executions, {errors} errors"
    )
    print(f"{'process':<24} {'start MiB':>10} {'end MiB':>10} {'delta':>8}")
    for name, start in rss_start.items():
        end = rss_end.get(name)
        print(f"{name:<24} {start:>10.1f} {end if end is not None else float('nan'):>10.1f} {(end or 0) - start:>8.1f}")
    print(f"written to {write_result('soak', results)}")
    if errors:
        raise SystemExit(f"soak: {errors} errors ({soak_stats['error_samples'][:3]})")


def executions_not_completed(env: dict, ids: list[str], timeout: float = 60) -> int:
    """How many of these executions are not `completed` once the queue has had `timeout` seconds to drain."""
    query = (
        "import json,sys; from workflows.models import Execution; ids=json.load(sys.stdin); "
        "print(Execution.objects.filter(pk__in=ids).exclude(status='completed').count())"
    )
    deadline = time.monotonic() + timeout
    while True:
        left = int(manage(env, "shell", "-c", query, stdin=json.dumps(ids)).strip().splitlines()[-1])
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(2)


if __name__ == "__main__":
    main()
