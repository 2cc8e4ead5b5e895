"""One execution's cost in the runner itself: `workflows.runner.execution_run` in this process, no Celery, no HTTP.

Runs bench/executions.py's 3-step transform workflow (greet -> shout -> count, rendered output) N times on a fresh
database with production settings, and prints the median wall time, the mean CPU time and the statements per
execution. It answers "what did this change to the runner save", with less noise than a worker drain; the rate a
worker sustains is bench/executions.py's.

Usage: .venv/bin/python bench/runner_in_process.py [--executions 300] [--profile FILE]  (cProfile to FILE)
"""

import argparse
import os
import statistics
import sys
import time

from harness import ROOT, TRANSFORM_WORKFLOW, base_env, drop_database, manage, recreate_database

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--profile", help="write a cProfile of the runs to this file")
    args = parser.parse_args()

    database = "aiassistant_bench_runner"
    recreate_database(database)
    env = base_env(database, LOG_LEVEL="WARNING")
    try:
        manage(env, "migrate", "--no-input")
        os.environ.update(env)
        import django

        django.setup()
        print(measure(args.executions, args.profile))
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(database)


def measure(count: int, profile: str | None) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from projects.services import project_create
    from workflows import runner
    from workflows.models import Execution, ExecutionStatus
    from workflows.services import workflow_create

    user = User.objects.create_user(email="bench@example.com", password="bench-password-Zx81!")
    project = project_create(name="Bench", actor=user)
    workflow = workflow_create(project=project, role="owner", name="bench", definition=TRANSFORM_WORKFLOW, actor=user)
    version = workflow.versions.get()
    ids = [
        Execution.objects.create(workflow=workflow, workflow_version=version, input={"name": f"user {n}"}).pk
        for n in range(count + 2)
    ]
    runner.execution_run(execution_id=ids.pop())  # warm-up: the renderer process, the pinned definition
    with CaptureQueriesContext(connection) as queries:  # the statements of one execution, once warm
        runner.execution_run(execution_id=ids.pop())
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    times = []
    cpu = time.process_time()
    for execution_id in ids:
        started = time.perf_counter()
        runner.execution_run(execution_id=execution_id)
        times.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    completed = Execution.objects.filter(pk__in=ids, status=ExecutionStatus.COMPLETED).count()
    if completed != count:
        raise SystemExit(f"only {completed} of {count} executions completed")
    statements = [q["sql"] for q in queries.captured_queries]
    commits = sum(sql == "COMMIT" for sql in statements)
    others = [sql for sql in statements if sql not in ("BEGIN", "COMMIT")]
    return (
        f"{count} executions in process: median {statistics.median(times) * 1000:.2f} ms wall, "
        f"mean {cpu / count * 1000:.2f} ms CPU; {len(others)} statements and {commits} commits each"
    )


if __name__ == "__main__":
    main()
