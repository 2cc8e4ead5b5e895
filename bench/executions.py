"""Workflow executions per second, next to the ceiling of a no-op Celery task on the same broker, queue and worker.

End to end: clients POST /api/v1/workflows/{id}/executions/ to gunicorn (production settings, PostgreSQL);
one Celery worker runs the 3-step transform workflow; the clock stops when every execution is completed in the
database. Worker only and the no-op ceiling are measured the same way, on a queue filled beforehand: the worker's
consumer is paused (Celery remote control), every message is published, the consumer resumes, and the figure is
the messages over the time from the first task's start to the last one's end (executions: the rows' started_at
and finished_at; no-ops: the times the first and last INCR saw). So neither includes publishing, which runs in
this process and would take CPU from the worker.

Usage: .venv/bin/python bench/executions.py [--executions 500] [--noop 5000] [--concurrency 2] [--clients 8]
       [--rounds 3]  (worker-only / no-op pairs, alternating which goes first; medians, and the CPU each task
                      cost the worker, PostgreSQL and Redis)
       [--profile SECONDS]  (py-spy on the worker's pool for that long while it drains the worker-only queue;
                             then the functions with the largest share of the tasks' samples)
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
from celery import shared_task
from harness import (
    ROOT,
    TRANSFORM_WORKFLOW,
    Worker,
    base_env,
    cpu_seconds,
    drop_database,
    gunicorn,
    login,
    manage,
    profile_lines,
    py_spy,
    recreate_database,
    service_cpu_seconds,
    write_result,
)

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))  # the bench process loads Django (config.settings.production) to count rows

PASSWORD = "bench-password-Zx81!"
COUNTER_KEY = "bench:noop:done"
FIRST_KEY, LAST_KEY = "bench:noop:first", "bench:noop:last"
PROFILE = ROOT / "bench" / "results" / "executions-worker.pyspy"

SEED = """
from accounts.models import User
from projects.services import project_create
from workflows.services import workflow_create
user = User.objects.create_user(email="bench@example.com", password="{password}")
project = project_create(name="Bench", actor=user)
definition = {definition!r}
workflow = workflow_create(project=project, role="owner", name="bench", definition=definition, actor=user)
print(workflow.id)
"""


_counter = None


@shared_task(name="bench.noop", ignore_result=True)
def noop(total: int) -> None:
    """Does nothing but count itself (one Redis INCR); the first and the last of `total` note the time."""
    global _counter
    if _counter is None:
        import redis
        from django.conf import settings

        _counter = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    done = _counter.incr(COUNTER_KEY)
    if done == 1:
        _counter.set(FIRST_KEY, time.time())
    if done == total:
        _counter.set(LAST_KEY, time.time())


class paused:
    """The worker consumes nothing from `queue` inside the block (its consumer is cancelled, then added back)."""

    def __init__(self, queue: str):
        from config.celery import app

        self.app, self.queue = app, queue

    def __enter__(self):
        # limit=1: the one worker's reply ends the wait (a broadcast otherwise waits the whole timeout for more).
        replies = self.app.control.cancel_consumer(self.queue, reply=True, timeout=10, limit=1)
        if not replies:
            raise SystemExit("the worker did not answer the remote control (cancel_consumer)")

    def __exit__(self, *exc):
        self.app.control.add_consumer(self.queue, reply=True, timeout=10, limit=1)


class cpu_per_task:
    """CPU milliseconds per task, by process group, over a drain: the worker (its pool and their renderer processes),
    PostgreSQL (every server process) and Redis. On 2 shared cores the CPU a task costs all of them together is
    what bounds its rate."""

    def __init__(self, worker_pid: int):
        worker = psutil.Process(worker_pid)
        self.worker = [worker, *worker.children(recursive=True)]
        self.before = {"worker": cpu_seconds(self.worker), **service_cpu_seconds()}

    def result(self, count: int) -> dict:
        now = {"worker": cpu_seconds(self.worker), **service_cpu_seconds()}
        spent = {name: (now[name] - self.before[name]) * 1000 / count for name in self.before}
        return {name: round(ms, 2) for name, ms in {**spent, "total": sum(spent.values())}.items()}


def _post(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(
        url,
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
        return response.status


def run_executions(base: str, token: str, workflow_id: str, count: int, clients: int) -> dict:
    from workflows.models import Execution

    before = Execution.objects.filter(status="completed").count()
    url = f"{base}/api/v1/workflows/{workflow_id}/executions/"
    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(lambda n: _post(url, token, {"input": {"name": f"user {n}"}}), range(count)))
    accepted = time.monotonic() - started
    while Execution.objects.filter(status="completed").count() - before < count:
        if Execution.objects.filter(status="failed").exists():
            raise SystemExit("an execution failed: " + Execution.objects.filter(status="failed").first().error)
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert statuses.count(202) == count, statuses
    return {
        "count": count,
        "seconds": round(elapsed, 3),
        "per_second": round(count / elapsed, 1),
        "api_accept_per_second": round(count / accepted, 1),
    }


def run_worker_only(workflow_id: str, count: int, queue: str, worker_pid: int, profile: float = 0) -> dict:
    """Executions queued by the service directly (no HTTP), drained by the worker: what the worker alone sustains.

    `profile`: seconds to sample the worker with py-spy while it drains (the figure is then lower)."""
    from django.db.models import Max, Min

    from projects.permissions import OPERATOR
    from workflows.models import Execution, Workflow
    from workflows.services import execution_start

    workflow = Workflow.objects.get(pk=workflow_id)
    with paused(queue):
        ids = [
            execution_start(role=OPERATOR, workflow=workflow, input={"name": f"user {n}"}, actor=None)[0].pk
            for n in range(count)
        ]
    cpu = cpu_per_task(worker_pid)
    spy = py_spy(worker_pid, profile, PROFILE) if profile else None
    batch = Execution.objects.filter(pk__in=ids)
    while batch.filter(status="completed").count() < count:
        if batch.filter(status="failed").exists():
            raise SystemExit("an execution failed: " + batch.filter(status="failed").first().error)
        time.sleep(0.2)
    cpu_ms = cpu.result(count)
    if spy is not None and spy.wait() != 0:
        raise SystemExit(f"py-spy failed: {spy.stderr.read().decode(errors='replace')[-500:]}")
    span = batch.aggregate(first=Min("started_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    return {"count": count, "seconds": round(seconds, 3), "per_second": round(count / seconds, 1), "cpu_ms": cpu_ms}


def run_noop(queue: str, count: int, worker_pid: int) -> dict:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(COUNTER_KEY, FIRST_KEY, LAST_KEY)
    with paused(queue):
        started = time.monotonic()
        for _ in range(count):
            noop.apply_async(args=(count,), queue=queue)
        published = time.monotonic() - started
    cpu = cpu_per_task(worker_pid)
    while client.get(LAST_KEY) is None:
        time.sleep(0.02)
    cpu_ms = cpu.result(count)
    seconds = float(client.get(LAST_KEY)) - float(client.get(FIRST_KEY))
    client.delete(COUNTER_KEY, FIRST_KEY, LAST_KEY)
    return {
        "count": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "publish_per_second": round(count / published, 1),
        "cpu_ms": cpu_ms,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--noop", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (prefork) in the one worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--rounds", type=int, default=3, help="worker-only / no-op pairs, alternating (medians)")
    parser.add_argument("--profile", type=float, metavar="SECONDS", help="py-spy the worker-only drain that long")
    args = parser.parse_args()

    database, queue = "aiassistant_bench_wf", f"bench-{uuid.uuid4().hex[:8]}"
    recreate_database(database)
    env = base_env(database, WORKER_METRICS_PORT="0", WORKFLOW_EXECUTION_QUEUE=queue, LOG_LEVEL="WARNING")
    worker = None
    try:
        manage(env, "migrate", "--no-input")
        workflow_id = (
            manage(env, "shell", "-c", SEED.format(password=PASSWORD, definition=TRANSFORM_WORKFLOW))
            .strip()
            .splitlines()[-1]
        )
        os.environ.update(env)
        import django

        django.setup()
        worker = Worker(env, queue, args.concurrency)
        with gunicorn(env) as base:
            token = login(base, "bench@example.com", PASSWORD)
            run_executions(base, token, workflow_id, 20, args.clients)  # warm-up: connections, imports
            executions = run_executions(base, token, workflow_id, args.executions, args.clients)
        pid = worker.proc.pid
        run_worker_only(workflow_id, 20, queue, pid)  # warm-up of the paused path
        rounds = []
        for index in range(args.rounds):  # alternating which side goes first
            pair = {}
            for side in ("worker_only", "noop") if index % 2 == 0 else ("noop", "worker_only"):
                if side == "noop":
                    pair[side] = run_noop(queue, args.noop, pid)
                else:
                    pair[side] = run_worker_only(workflow_id, args.executions, queue, pid)
            rounds.append(pair)
        if args.profile:
            run_worker_only(workflow_id, args.executions, queue, pid, profile=args.profile)
    finally:
        if worker is not None:
            worker.stop()
        drop_database(database)

    def median(side: str, key: str) -> float:
        return round(statistics.median(pair[side][key] for pair in rounds), 1)

    worker_only_rate, noop_rate = median("worker_only", "per_second"), median("noop", "per_second")
    ratios = [round(pair["worker_only"]["per_second"] / pair["noop"]["per_second"], 3) for pair in rounds]
    cpu = {
        side: {
            group: statistics.median(pair[side]["cpu_ms"][group] for pair in rounds)
            for group in rounds[0][side]["cpu_ms"]
        }
        for side in ("worker_only", "noop")
    }
    results = {
        "executions_end_to_end": executions,
        "rounds": rounds,
        "executions_worker_only_per_second": worker_only_rate,
        "noop_per_second": noop_rate,
        "ratio": round(executions["per_second"] / noop_rate, 3),
        "ratio_worker_only": statistics.median(ratios),
        "ratio_worker_only_rounds": ratios,
        "cpu_ms_per_task": cpu,
        "worker_concurrency": args.concurrency,
        "api_clients": args.clients,
        "cpus": os.cpu_count(),
        "command": "python bench/executions.py " + " ".join(sys.argv[1:]),
    }
    print(
        f"worker: 1 (prefork, concurrency {args.concurrency}); broker {env['CELERY_BROKER_URL']}; "
        f"gunicorn 2 workers; {args.clients} API clients; {args.rounds} rounds (medians)"
    )
    print(
        f"end-to-end executions (3-step transform): {executions['per_second']:8.1f}/s "
        f"({executions['count']} in {executions['seconds']}s; API accepted {executions['api_accept_per_second']}/s)"
    )
    print(f"executions queued without the API:        {worker_only_rate:8.1f}/s ({args.executions} per round)")
    print(f"no-op Celery task ceiling:                {noop_rate:8.1f}/s ({args.noop} per round)")
    print(
        f"ratio executions / no-op:                 {results['ratio']:8.3f}  "
        f"(worker only: {results['ratio_worker_only']:.3f}, rounds {ratios})"
    )
    for side, label in (("worker_only", "an execution"), ("noop", "a no-op task")):
        groups = ", ".join(f"{group} {ms:.2f}" for group, ms in cpu[side].items())
        print(f"CPU ms per task, {label:13s} {groups}")
    print(f"written to {write_result('executions', results)}")
    if args.profile:
        print(f"\nprofile of the worker-only drain ({PROFILE}):")
        print("\n".join(profile_lines(PROFILE, "execution_run (runner.py)")))


if __name__ == "__main__":
    main()
