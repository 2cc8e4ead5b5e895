"""Workflow executions per second, next to the ceiling of a no-op Celery task on the same broker, queue and worker.

End to end: clients POST /api/v1/workflows/{id}/executions/ to gunicorn (production settings, PostgreSQL);
one Celery worker runs the 3-step transform workflow; the clock stops when every execution is completed in the
database. Worker only and the no-op ceiling are measured the same way, on a queue filled beforehand: the worker's
consumer is paused (Celery remote control), every message is published, the consumer resumes, and the figure is
the messages over the time from the first task's start to the last one's end (executions: the rows' started_at
and finished_at; no-ops: the times the first and last INCR saw). So neither includes publishing, which runs in
this process and would take CPU from the worker.

Usage: .venv/bin/python bench/executions.py [--executions 500] [--noop 5000] [--concurrency 2] [--clients 8]
       [--profile SECONDS]  (py-spy on the worker's pool for that long while it drains the worker-only queue;
                             then the functions with the largest share of the tasks' samples)
"""

import argparse
import json
import os
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from harness import (
    ROOT,
    Worker,
    base_env,
    drop_database,
    gunicorn,
    login,
    manage,
    profile_lines,
    py_spy,
    recreate_database,
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
definition = {{"steps": [
    {{"id": "greet", "type": "transform", "config": {{"value": {{"message": "Hello {{{{ input.name }}}}"}}}}}},
    {{"id": "shout", "type": "transform", "depends_on": ["greet"],
      "config": {{"value": "{{{{ steps.greet.output.message | upper }}}}"}}}},
    {{"id": "count", "type": "transform", "depends_on": ["shout"],
      "config": {{"value": "{{{{ steps.shout.output | length }}}}"}}}}],
  "output": {{"greeting": "{{{{ steps.shout.output }}}}", "length": "{{{{ steps.count.output }}}}"}}}}
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
        replies = self.app.control.cancel_consumer(self.queue, reply=True, timeout=10)
        if not replies:
            raise SystemExit("the worker did not answer the remote control (cancel_consumer)")

    def __exit__(self, *exc):
        self.app.control.add_consumer(self.queue, reply=True, timeout=10)


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


def run_worker_only(workflow_id: str, count: int, queue: str, profile: tuple[int, float] | None = None) -> dict:
    """Executions queued by the service directly (no HTTP), drained by the worker: what the worker alone sustains.

    `profile`: (worker pid, seconds) to sample the worker with py-spy while it drains (the figure is then lower)."""
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
    spy = py_spy(profile[0], profile[1], PROFILE) if profile else None
    batch = Execution.objects.filter(pk__in=ids)
    while batch.filter(status="completed").count() < count:
        if batch.filter(status="failed").exists():
            raise SystemExit("an execution failed: " + batch.filter(status="failed").first().error)
        time.sleep(0.05)
    if spy is not None and spy.wait() != 0:
        raise SystemExit(f"py-spy failed: {spy.stderr.read().decode(errors='replace')[-500:]}")
    span = batch.aggregate(first=Min("started_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    return {"count": count, "seconds": round(seconds, 3), "per_second": round(count / seconds, 1)}


def run_noop(queue: str, count: int) -> dict:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(COUNTER_KEY, FIRST_KEY, LAST_KEY)
    with paused(queue):
        started = time.monotonic()
        for _ in range(count):
            noop.apply_async(args=(count,), queue=queue)
        published = time.monotonic() - started
    while client.get(LAST_KEY) is None:
        time.sleep(0.02)
    seconds = float(client.get(LAST_KEY)) - float(client.get(FIRST_KEY))
    client.delete(COUNTER_KEY, FIRST_KEY, LAST_KEY)
    return {
        "count": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "publish_per_second": round(count / published, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--noop", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (prefork) in the one worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--profile", type=float, metavar="SECONDS", help="py-spy the worker-only drain that long")
    args = parser.parse_args()

    database, queue = "aiassistant_bench_wf", f"bench-{uuid.uuid4().hex[:8]}"
    recreate_database(database)
    env = base_env(database, WORKER_METRICS_PORT="0", WORKFLOW_EXECUTION_QUEUE=queue, LOG_LEVEL="WARNING")
    worker = None
    try:
        manage(env, "migrate", "--no-input")
        workflow_id = manage(env, "shell", "-c", SEED.format(password=PASSWORD)).strip().splitlines()[-1]
        os.environ.update(env)
        import django

        django.setup()
        worker = Worker(env, queue, args.concurrency)
        with gunicorn(env) as base:
            token = login(base, "bench@example.com", PASSWORD)
            run_executions(base, token, workflow_id, 20, args.clients)  # warm-up: connections, imports
            executions = run_executions(base, token, workflow_id, args.executions, args.clients)
        run_worker_only(workflow_id, 20, queue)  # warm-up of the paused path
        worker_only = run_worker_only(workflow_id, args.executions, queue)
        if args.profile:
            run_worker_only(workflow_id, args.executions, queue, profile=(worker.proc.pid, args.profile))
        noop_result = run_noop(queue, args.noop)
    finally:
        if worker is not None:
            worker.stop()
        drop_database(database)

    ratio = executions["per_second"] / noop_result["per_second"]
    results = {
        "executions_end_to_end": executions,
        "executions_worker_only": worker_only,
        "noop_task_ceiling": noop_result,
        "ratio": round(ratio, 3),
        "ratio_worker_only": round(worker_only["per_second"] / noop_result["per_second"], 3),
        "worker_concurrency": args.concurrency,
        "api_clients": args.clients,
        "cpus": os.cpu_count(),
        "command": "python bench/executions.py " + " ".join(sys.argv[1:]),
    }
    print(
        f"worker: 1 (prefork, concurrency {args.concurrency}); broker {env['CELERY_BROKER_URL']}; "
        f"gunicorn 2 workers; {args.clients} API clients"
    )
    print(
        f"end-to-end executions (3-step transform): {executions['per_second']:8.1f}/s "
        f"({executions['count']} in {executions['seconds']}s; API accepted {executions['api_accept_per_second']}/s)"
    )
    print(
        f"executions queued without the API:        {worker_only['per_second']:8.1f}/s "
        f"({worker_only['count']} in {worker_only['seconds']}s)"
    )
    print(
        f"no-op Celery task ceiling:                {noop_result['per_second']:8.1f}/s "
        f"({noop_result['count']} in {noop_result['seconds']}s)"
    )
    print(f"ratio executions / no-op:                 {ratio:8.3f}  (worker only: {results['ratio_worker_only']:.3f})")
    print(f"written to {write_result('executions', results)}")
    if args.profile:
        print(f"\nprofile of the worker-only drain ({PROFILE}):")
        print("\n".join(profile_lines(PROFILE, "execution_run (runner.py)")))


if __name__ == "__main__":
    main()
