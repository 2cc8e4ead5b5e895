"""Hot reads of the request path, measured in process: what the Redis cache (issue 14) is worth, and where.

Three reads named by the issue, each with the read cache off and on (PROJECT_LIST_CACHE_SECONDS,
WORKFLOW_VERSION_CACHE_SECONDS): SQL statements and wall time per call, median of `--repeat` batches.
- `GET /api/v1/projects/` and `GET /api/v2/projects/` (20 projects) through Django's test client: every
  middleware and the JWT authentication, no HTTP;
- a workflow's current version (`workflows.selectors.workflow_version_current`, what each execution start reads);
- the caller's role in a project (`projects.selectors.project_get`: the role is a subquery of the project's own
  query; and a separate `Membership` lookup for comparison).

Production settings on a scratch PostgreSQL database (created and dropped) and the Redis of BENCH_REDIS_URL.
Usage: .venv/bin/python bench/hot_reads.py [--requests 200] [--repeat 5]
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

from harness import ROOT, base_env, drop_database, manage, recreate_database, write_result

DATABASE = "aiassistant_bench_hot"

SEED = """
from accounts.models import User
from projects.services import project_create
from workflows.services import workflow_create
user = User.objects.create_user(email="bench@example.com", password="bench-password-Zx81!")
projects = [project_create(name=f"Bench project {n}", description="benchmark", actor=user) for n in range(20)]
definition = {"steps": [{"id": "greet", "type": "transform", "config": {"value": "Hello {{ input.name }}"}}]}
workflow = workflow_create(project=projects[0], role="owner", name="bench", definition=definition, actor=user)
"""


def _measure(call, *, count: int, repeat: int) -> dict:
    """Statements per call and the median over `repeat` batches of the mean milliseconds per call."""
    from django.db import connection

    for _ in range(10):  # warm-up: the first call fills the cache
        call()
    statements = []

    def counted(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    # A wrapper, not CaptureQueriesContext: each request resets the connection's query log when it starts.
    with connection.execute_wrapper(counted):
        call()
    batches = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(count):
            call()
        batches.append((time.perf_counter() - started) * 1000 / count)
    return {"queries": len(statements), "ms": round(statistics.median(batches), 3)}


def run(requests: int, repeat: int) -> dict:
    started = datetime.datetime.now(tz=datetime.UTC)
    recreate_database(DATABASE)
    env = base_env(DATABASE, LOG_LEVEL="WARNING")
    found: dict = {}
    try:
        manage(env, "migrate", "--no-input")
        manage(env, "shell", "-c", SEED)
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.cache import cache
        from django.test import Client, override_settings

        from accounts.models import User
        from accounts.tokens import pair_for
        from projects import selectors as project_selectors
        from projects.models import Membership
        from workflows import selectors as workflow_selectors
        from workflows.models import Workflow

        user = User.objects.get(email="bench@example.com")
        workflow = Workflow.objects.select_related("project").get()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {pair_for(user)['access_token']}", HTTP_HOST="127.0.0.1")

        def get(path):
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")

        reads = {
            "GET /api/v1/projects/": lambda: get("/api/v1/projects/"),
            "GET /api/v2/projects/": lambda: get("/api/v2/projects/"),
            "workflow current version": lambda: workflow_selectors.workflow_version_current(workflow=workflow),
            "role via project_get": lambda: project_selectors.project_get(user=user, project_id=workflow.project_id),
            "role via Membership lookup": lambda: Membership.objects.filter(
                project_id=workflow.project_id, user=user
            ).values_list("role", flat=True)[0],
        }
        for mode, seconds in (("off", 0), ("on", 30)):
            cache.clear()
            with override_settings(PROJECT_LIST_CACHE_SECONDS=seconds, WORKFLOW_VERSION_CACHE_SECONDS=seconds):
                for name, call in reads.items():
                    count = requests if name.startswith("GET") else requests * 5
                    found.setdefault(name, {})[mode] = _measure(call, count=count, repeat=repeat)
        cache.clear()
    finally:
        drop_database(DATABASE)
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_at_end": os.getloadavg(),
        "requests": requests,
        "repeat": repeat,
        "reads": found,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per batch (reads: five times more)")
    parser.add_argument("--repeat", type=int, default=5, help="batches; the figure is their median")
    args = parser.parse_args()
    results = run(args.requests, args.repeat)
    print(f"{'read':30} {'queries off':>11} {'ms off':>8} {'queries on':>10} {'ms on':>8}")
    for name, modes in results["reads"].items():
        off, on = modes["off"], modes["on"]
        print(f"{name:30} {off['queries']:11d} {off['ms']:8.3f} {on['queries']:10d} {on['ms']:8.3f}")
    print("load average at the end: {:.2f} {:.2f} {:.2f}".format(*results["load_average_at_end"]))
    print(f"written to {write_result('hot_reads', results)}")


if __name__ == "__main__":
    main()
