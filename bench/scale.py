"""Cost flat in size (issue 13, goal 4): four reads at 1,000 executions and again at 1,000,000, and their plans.

The four operations, measured in process (Django's test client through every middleware, production settings
on a scratch PostgreSQL database, a JWT from the real login), `--requests` times each, median:
  v1 list   GET /api/v1/workflows/{id}/executions/   (page 1, page-number pagination with `count`)
  v2 list   GET /api/v2/workflows/{id}/executions/   (page 1, cursors) and its next page (`?cursor=`)
  quiet     both lists of the quiet workflow (below)
  detail    GET /api/v1/executions/{id}/              (one execution with its 3 step runs)
  sweep     workflows.services.executions_recover_stale() (what the beat task runs; a fixed 10 stale executions
            are found and queued every time, on a queue of the benchmark's own that nobody consumes)
  projects  GET /api/v1/projects/ and GET /api/v2/projects/ (the caller is a member of 20 projects)
For each, the SQL statements it issues and `EXPLAIN (ANALYZE, BUFFERS)` of each (statements that write run in a
transaction rolled back), and whether a plan reads a big table with a Seq Scan.

Sizes: small = 1,000 executions and 3,000 step runs; big = 1,000,000 and 3,000,000. Every tenth execution belongs to
the measured workflow (100 small, 100,000 big: "one workflow" is large too), the others spread over the other
workflows (9 small; 20,000 over 20,000 projects of 5,000 other users, big). Rows are inserted with set-based SQL
(INSERT ... SELECT generate_series). Growing adds a year of newer executions, and the "quiet" workflow (one of the
small size's 9) gets none of them: its page 1 is the same 20 of its ~110 executions at both sizes, behind 999,000
newer ones at the big size (a workflow that stopped running: the planner's trap for "newest first"). The big
database is a copy of the small one (CREATE DATABASE ... TEMPLATE) grown to the big size, so that the rounds can
alternate between the two (small, big, big, small, ...): both sizes see the same machine load, which on a shared
2-vCPU machine moves more than the sizes do. Figures: the median wall time over all rounds of each size, the
ratio (the median of the per-round ratios of medians), this process's CPU time (Django's share of a call, steadier
under load) and the statements' execution time in PostgreSQL (EXPLAIN ANALYZE).
It creates and drops the databases aiassistant_bench_scale_small and aiassistant_bench_scale_big.
Usage: .venv/bin/python bench/scale.py [--requests 5] [--rounds 12] [--small 1000] [--big 1000000]
"""

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

from harness import PG, ROOT, base_env, drop_database, manage, recreate_database, write_result

DATABASES = {"small": "aiassistant_bench_scale_small", "big": "aiassistant_bench_scale_big"}
PASSWORD = "bench-password-Zx81!"
GOAL_RATIO = 1.5
STEPS_PER_EXECUTION = 3
MEASURED_SHARE = 10  # every tenth execution is the measured workflow's
STALE = 5  # running executions with a dead heartbeat, and as many lost pending ones (both sizes)
BIG_TABLES = ("workflows_execution", "workflows_steprun")
FILLER = {
    "small": {"users": 0, "projects": 0, "workflows": 9},
    "big": {"users": 5000, "projects": 20000, "workflows": 20000},
}

SEED = """
from accounts.models import User
from projects.services import project_create
from workflows.services import workflow_create
user = User.objects.create_user(email="bench@example.com", password="{password}")
projects = [project_create(name=f"Bench project {{n:02d}}", description="benchmark", actor=user) for n in range(20)]
definition = {{"steps": [
    {{"id": "greet", "type": "transform", "config": {{"value": "Hello {{{{ input.name }}}}"}}}},
    {{"id": "shout", "type": "transform", "depends_on": ["greet"],
     "config": {{"value": "{{{{ steps.greet.output }}}}!"}}}},
    {{"id": "done", "type": "transform", "config": {{"value": "ok"}}}},
]}}
for n in range(10):
    workflow = workflow_create(project=projects[n % 20], role="owner", name=f"bench {{n}}", definition=definition,
                               actor=user)
    print(n, workflow.id, workflow.versions.get().id, user.id)
"""

# The workflows executions are spread over, numbered: 0 is the measured one.
WORKFLOW_TABLE = (
    "CREATE TABLE bench_workflow (n integer PRIMARY KEY, workflow_id uuid NOT NULL, version_id uuid NOT NULL)"
)

FILLER_SQL = """
INSERT INTO accounts_user (id, password, is_superuser, email, full_name, is_active, is_staff, date_joined)
SELECT md5('user' || g)::uuid, '!', false, 'filler' || g || '@example.com', 'Filler ' || g, true, false, now()
FROM generate_series(1, {users}) g;
INSERT INTO projects_project (id, created_at, updated_at, name, slug, description, created_by_id)
SELECT md5('project' || g)::uuid, now() - g * interval '1 hour', now(), 'Filler ' || g, 'filler-' || g, '',
       md5('user' || (1 + g % {users}))::uuid
FROM generate_series(1, {projects}) g;
INSERT INTO projects_membership (id, created_at, updated_at, role, user_id, project_id)
SELECT md5('membership' || g)::uuid, now(), now(), 'owner', md5('user' || (1 + g % {users}))::uuid,
       md5('project' || g)::uuid
FROM generate_series(1, {projects}) g;
INSERT INTO workflows_workflow (id, created_at, updated_at, name, description, definition, version, is_active,
                                project_id)
SELECT md5('workflow' || g)::uuid, now() - g * interval '1 minute', now(), 'filler ' || g, '',
       (SELECT definition FROM workflows_workflow WHERE id = (SELECT workflow_id FROM bench_workflow WHERE n = 0)),
       1, true, md5('project' || (1 + g % {projects}))::uuid
FROM generate_series(1, {workflows}) g;
INSERT INTO workflows_workflowversion (id, created_at, updated_at, version, definition, workflow_id)
SELECT md5('version' || g)::uuid, now() - g * interval '1 minute', now(), 1,
       (SELECT definition FROM workflows_workflow WHERE id = (SELECT workflow_id FROM bench_workflow WHERE n = 0)),
       md5('workflow' || g)::uuid
FROM generate_series(1, {workflows}) g;
INSERT INTO bench_workflow (n, workflow_id, version_id)
SELECT {offset} + g, md5('workflow' || g)::uuid, md5('version' || g)::uuid FROM generate_series(1, {workflows}) g;
"""

# Execution g is created at {at}: the small size's g * 30 s before 400 days ago (g = 1 the newest), the big size's
# over the 347 days since (g = the last the newest). Mostly finished, as in a real table. {first_other}: 1 at the
# small size, 2 at the big one, so that the quiet workflow (1) gets none of the newer executions.
EXECUTIONS_SQL = """
INSERT INTO workflows_execution (id, created_at, updated_at, status, input, output, error, request_fingerprint,
    started_at, finished_at, cancel_requested, heartbeat_at, runner_id, triggered_by_id, workflow_id,
    workflow_version_id, claims, claims_progress)
SELECT md5('execution' || g)::uuid,
       {at},
       {at} + interval '2 seconds',
       CASE WHEN g % 100 < 90 THEN 'completed' WHEN g % 100 < 98 THEN 'failed' ELSE 'cancelled' END,
       jsonb_build_object('name', 'user ' || g),
       CASE WHEN g % 100 < 90 THEN jsonb_build_object('done', 'ok', 'greet', 'Hello user ' || g) END,
       CASE WHEN g % 100 BETWEEN 90 AND 97 THEN 'step shout: template error' ELSE '' END,
       encode(sha256(convert_to('user ' || g, 'UTF8')), 'hex'),
       {at} + interval '100 ms',
       {at} + interval '2 seconds',
       false,
       {at} + interval '2 seconds',
       'bench@host-' || (g % 4),
       '{user}'::uuid,
       w.workflow_id, w.version_id, 1, 0
FROM generate_series({first}, {last}) g
JOIN bench_workflow w
  ON w.n = CASE WHEN g % {share} = 0 THEN 0
                ELSE {first_other} + g % ((SELECT count(*) FROM bench_workflow)::int - {first_other}) END;
INSERT INTO workflows_steprun (id, created_at, updated_at, step_id, type, status, attempts, output, error,
    started_at, finished_at, execution_id)
SELECT md5('step' || g || '-' || s)::uuid,
       {at} + s * interval '500 ms',
       {at} + s * interval '500 ms',
       (ARRAY['greet', 'shout', 'done'])[s], 'transform', 'completed', 1,
       to_jsonb('Hello user ' || g), '',
       {at} + s * interval '500 ms',
       {at} + s * interval '500 ms' + interval '20 ms',
       md5('execution' || g)::uuid
FROM generate_series({first}, {last}) g CROSS JOIN generate_series(1, {steps}) s;
"""

# Among the small size's executions (so in both databases): STALE running ones whose runner died an hour ago, STALE
# pending ones whose message was lost, and 20 running with a live heartbeat (not stale: the sweep must skip them).
STATES_SQL = """
UPDATE workflows_execution SET status = 'running', finished_at = NULL, output = NULL,
       heartbeat_at = now() - interval '1 hour'
 WHERE id IN (SELECT md5('execution' || g)::uuid FROM generate_series(101, 100 + {stale}) g);
UPDATE workflows_execution SET status = 'pending', started_at = NULL, finished_at = NULL, output = NULL,
       heartbeat_at = NULL, runner_id = ''
 WHERE id IN (SELECT md5('execution' || g)::uuid FROM generate_series(201, 200 + {stale}) g);
UPDATE workflows_execution SET status = 'running', finished_at = NULL, output = NULL, heartbeat_at = now()
 WHERE id IN (SELECT md5('execution' || g)::uuid FROM generate_series(301, 320) g);
"""

# The sweep touches the pending ones it queues (updated_at = now()); before each timed sweep they are made lost
# again, and the live runners beat, outside the timing, so that every sweep finds the same 2 * STALE.
RESET_SQL = """
UPDATE workflows_execution SET updated_at = now() - interval '1 hour'
 WHERE id IN (SELECT md5('execution' || g)::uuid FROM generate_series(201, 200 + {stale}) g);
UPDATE workflows_execution SET heartbeat_at = now()
 WHERE id IN (SELECT md5('execution' || g)::uuid FROM generate_series(301, 320) g)
"""


def psql(sql: str, size: str = "small") -> str:
    result = subprocess.run(
        ["psql", f"{PG}/{DATABASES[size]}", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"psql failed: {result.stderr.strip()[-1000:]}")
    return result.stdout.strip()


def seed_base(env: dict) -> dict:
    """The caller, 20 projects, the measured workflow and 9 others, through the services (real rows)."""
    lines = [line.split() for line in manage(env, "shell", "-c", SEED.format(password=PASSWORD)).splitlines()]
    psql(WORKFLOW_TABLE)
    rows = [line for line in lines if len(line) == 4]
    psql(
        "INSERT INTO bench_workflow (n, workflow_id, version_id) VALUES "
        + ", ".join(f"({int(n)}, '{uuid.UUID(w)}', '{uuid.UUID(v)}')" for n, w, v, _ in rows)
    )
    return {"workflow": rows[0][1], "quiet": rows[1][1], "user": rows[0][3]}


def insert_executions(size: str, first: int, last: int, user: str) -> None:
    if size == "small":
        at, first_other = "(now() - interval '400 days' - g * interval '30 seconds')", 1
    else:
        at, first_other = f"(now() - ({last} - g + 1) * interval '30 seconds')", 2
    for start in range(first, last + 1, 100_000):  # statements of 100,000 executions (300,000 step runs)
        end = min(last, start + 99_999)
        psql(
            EXECUTIONS_SQL.format(
                first=start,
                last=end,
                user=uuid.UUID(user),
                share=MEASURED_SHARE,
                steps=STEPS_PER_EXECUTION,
                at=at,
                first_other=first_other,
            ),
            size,
        )


# The secondary indexes of the two big tables (not the primary keys and unique constraints): dropped for a bulk load
# and built again after it, which is several times faster than keeping them up to date row by row.
SECONDARY_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
 JOIN pg_class t ON t.oid = x.indrelid
 WHERE t.relname IN ('workflows_execution', 'workflows_steprun')
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
"""


@contextmanager
def bulk_load(size: str):
    """Secondary indexes dropped meanwhile and rebuilt after (the same definitions, from pg_get_indexdef)."""
    indexes = [line.split("|", 1) for line in psql(SECONDARY_INDEXES, size).splitlines()]
    psql("; ".join(f'DROP INDEX "{name}"' for name, _ in indexes), size)
    try:
        yield
    finally:
        psql("SET maintenance_work_mem = '256MB'; " + "; ".join(definition for _, definition in indexes), size)


def grow(size: str, executions: int, present: int, user: str) -> dict:
    """Add the filler of `size` and executions present+1..executions; returns the seconds and the row counts."""
    begin = time.monotonic()
    filler = FILLER[size]
    if filler["users"]:
        offset = int(psql("SELECT max(n) FROM bench_workflow", size))
        psql(FILLER_SQL.format(offset=offset, **filler), size)
    if executions - present > 100_000:
        with bulk_load(size):
            insert_executions(size, present + 1, executions, user)
    else:
        insert_executions(size, present + 1, executions, user)
    if present == 0:
        psql(STATES_SQL.format(stale=STALE), size)
    psql("VACUUM ANALYZE", size)
    seconds = time.monotonic() - begin
    counts = {
        table: int(psql(f"SELECT count(*) FROM {table}", size))  # our own table names
        for table in ("projects_project", "workflows_workflow", "workflows_execution", "workflows_steprun")
    }
    counts["measured_workflow_executions"] = int(
        psql(
            "SELECT count(*) FROM workflows_execution"
            " WHERE workflow_id = (SELECT workflow_id FROM bench_workflow WHERE n = 0)",
            size,
        )
    )
    return {"seed_seconds": round(seconds, 1), "rows": counts}


# --- in process --------------------------------------------------------------------------------------------------

SCAN = re.compile(
    r"(?P<node>Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan)(?: Backward)?"
    r"(?: using (?P<index>\S+))? on (?P<relation>\S+)"
)


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))  # before bench/: the project's `audit` app, not bench/audit.py
    import django

    django.setup()


def explain(sql: str) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured statement, in a transaction rolled back (the sweep writes)."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    scans = [match.groupdict() for line in lines for match in SCAN.finditer(line)]
    for scan in scans:
        if scan["node"] == "Bitmap Index Scan":  # "Bitmap Index Scan on <index>"
            scan["index"] = scan["relation"]
    seq_big = sorted({s["relation"] for s in scans if "Seq Scan" in s["node"] and s["relation"] in BIG_TABLES})
    return {
        "sql": sql,
        "plan": lines,
        "indexes": sorted({s["index"] for s in scans if s["index"]}),
        "seq_scans": sorted({s["relation"] for s in scans if "Seq Scan" in s["node"]}),
        "seq_scan_on_big_table": seq_big,
        "uses_index": any(s["index"] for s in scans),
        "counts_rows": "count(" in sql.lower(),
        "execution_ms": float(match.group(1)) if (match := EXECUTION_TIME.search(lines[-1] if lines else "")) else 0.0,
    }


EXPLAINED = ("SELECT", "UPDATE", "DELETE", "WITH")
EXECUTION_TIME = re.compile(r"Execution Time: ([\d.]+) ms")


def use_database(size: str) -> None:
    """Point Django's connection (and its pool) at the database of `size`: the rounds alternate between them."""
    from django.db import connection

    connection.close()
    connection.close_pool()
    connection.settings_dict["NAME"] = DATABASES[size]


def operations(client, ids: dict) -> dict:
    """The calls measured, by name (the v2 next page's cursor is read from the database in use)."""
    from workflows import services

    workflow, execution, quiet = ids["workflow"], ids["execution"], ids["quiet"]
    cursor = _get(client, f"/api/v2/workflows/{workflow}/executions/")["pagination"]["next_cursor"]

    def sweep():
        found = services.executions_recover_stale()
        if found != 2 * STALE:
            raise SystemExit(f"the sweep found {found} executions, expected {2 * STALE}")

    return {
        "executions list v1": lambda: _get(client, f"/api/v1/workflows/{workflow}/executions/"),
        "executions list v2": lambda: _get(client, f"/api/v2/workflows/{workflow}/executions/"),
        "executions list v2, next page": lambda: _get(
            client, f"/api/v2/workflows/{workflow}/executions/?cursor={cursor}"
        ),
        "quiet workflow list v1": lambda: _get(client, f"/api/v1/workflows/{quiet}/executions/"),
        "quiet workflow list v2": lambda: _get(client, f"/api/v2/workflows/{quiet}/executions/"),
        "execution detail": lambda: _get(client, f"/api/v1/executions/{execution}/"),
        "stale sweep": sweep,
        "project list v1": lambda: _get(client, "/api/v1/projects/"),
        "project list v2": lambda: _get(client, "/api/v2/projects/"),
    }


def reset_stale() -> None:
    from django.db import connection

    with connection.cursor() as sql:
        for statement in RESET_SQL.format(stale=STALE).split(";"):
            sql.execute(statement)


def timed(calls: dict, requests: int) -> dict[str, dict[str, list[float]]]:
    """`requests` timed calls of each (after 2 untimed: the round's first touches a fresh pool): wall ms, and the
    CPU ms of this process (Django's share, steadier than wall time when other jobs share the cores)."""
    found = {}
    for name, call in calls.items():
        wall, cpu = [], []
        for number in range(requests + 2):
            if name == "stale sweep":
                reset_stale()
            begin, begin_cpu = time.perf_counter(), time.process_time()
            call()
            if number >= 2:
                wall.append((time.perf_counter() - begin) * 1000)
                cpu.append((time.process_time() - begin_cpu) * 1000)
        found[name] = {"wall": wall, "cpu": cpu}
    return found


def statements(call, sweep: bool) -> dict:
    """One more call with its SQL captured, and each statement explained."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if sweep:
        reset_stale()
    with CaptureQueriesContext(connection) as captured:
        call()
    sqls = [q["sql"] for q in captured.captured_queries]
    explained = [explain(sql) for sql in sqls if sql.lstrip().upper().startswith(EXPLAINED)]
    return {
        "queries": len(sqls),
        "database_ms": round(sum(e["execution_ms"] for e in explained), 3),
        "statements": explained,
        "every_plan_uses_an_index": all(e["uses_index"] for e in explained if _reads_big_table(e)),
        "seq_scan_on_big_table": sorted({t for e in explained for t in e["seq_scan_on_big_table"]}),
        "counts_rows": any(e["counts_rows"] for e in explained),
    }


def _reads_big_table(explained: dict) -> bool:
    return any(table in explained["sql"] for table in (*BIG_TABLES, "projects_project"))


def window_count_plan(workflow_id: str) -> dict:
    """The v1 page's statement as it was before the capped count (issue 13 goal 4): `COUNT(*) OVER ()` on the
    rows of the list, explained, for the figure before the change."""
    from django.db.models import Count, Window

    from workflows.models import Execution

    queryset = (
        Execution.objects.filter(workflow_id=workflow_id).select_related("workflow_version").order_by("-created_at")
    )
    sql, params = queryset.annotate(total=Window(Count("*")))[:20].query.sql_with_params()
    from django.db import connection

    with connection.cursor() as cursor:
        found = explain(cursor.mogrify(sql, params))
    return {"database_ms": found["execution_ms"], "statement": found}


def measure(ids: dict, requests: int, rounds: int) -> dict:
    """Rounds alternating small and big (the same machine load for both), then the SQL of each at each size."""
    from django.test import Client

    use_database("small")
    client = Client(HTTP_HOST="127.0.0.1")
    response = client.post(
        "/api/v1/auth/login/", {"email": "bench@example.com", "password": PASSWORD}, content_type="application/json"
    )
    if response.status_code != 200:
        raise SystemExit(f"login failed: {response.status_code} {response.content[:300]!r}")
    # The same user (and id) in both databases: the big one was copied from the small one.
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    calls = {}
    for size in DATABASES:
        use_database(size)
        calls[size] = operations(client, ids)
    times: dict = {size: {name: {"wall": [], "cpu": []} for name in calls[size]} for size in DATABASES}
    round_ratios: dict = {name: [] for name in calls["small"]}
    for number in range(rounds):
        medians = {}
        for size in ("small", "big") if number % 2 == 0 else ("big", "small"):
            use_database(size)
            for name, values in timed(calls[size], requests).items():
                for kind in ("wall", "cpu"):
                    times[size][name][kind] += values[kind]
                medians[size, name] = statistics.median(values["wall"])
        for name in round_ratios:
            round_ratios[name].append(round(medians["big", name] / medians["small", name], 3))
        print(f"  round {number + 1}/{rounds}: " + ", ".join(f"{n} {r[-1]:.2f}" for n, r in round_ratios.items()))
    found = {}
    for size in DATABASES:
        use_database(size)
        found[size] = {}
        for name, call in calls[size].items():
            values = times[size][name]["wall"]
            found[size][name] = {
                "median_ms": round(statistics.median(values), 2),
                "p90_ms": round(sorted(values)[max(0, int(len(values) * 0.9) - 1)], 2),
                "cpu_median_ms": round(statistics.median(times[size][name]["cpu"]), 2),
                "calls": len(values),
                "round_ratios": round_ratios[name],
                **statements(call, name == "stale sweep"),
            }
        found[size]["before: v1 page with COUNT(*) OVER ()"] = window_count_plan(ids["workflow"])
        found[size]["v1 list count"] = _get(client, f"/api/v1/workflows/{ids['workflow']}/executions/")["count"]
    return found


def _get(client, path: str) -> dict:
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.content[:300]!r}")
    return response.json()


def purge_queue(queue: str) -> None:
    """The benchmark's queue and kombu's bookkeeping of it (binding keys), from the broker's Redis database."""
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for key in broker.scan_iter(match=f"*{queue}*"):
        broker.delete(key)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5, help="timed calls of each operation per round and size")
    parser.add_argument("--rounds", type=int, default=12, help="rounds, alternating small and big")
    parser.add_argument("--small", type=int, default=1_000, help="executions at the small size")
    parser.add_argument("--big", type=int, default=1_000_000, help="executions at the big size")
    args = parser.parse_args()
    queue = f"bench-scale-{uuid.uuid4().hex[:8]}"
    results: dict = {
        "started_at": datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_at_start": os.getloadavg(),
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
        "goal_ratio": GOAL_RATIO,
        "sizes": {},
    }
    recreate_database(DATABASES["small"])
    drop_database(DATABASES["big"])
    env = base_env(
        DATABASES["small"], WORKFLOW_EXECUTION_QUEUE=queue, WORKFLOW_HEARTBEAT_STALE_AFTER="60", LOG_LEVEL="ERROR"
    )
    try:
        manage(env, "migrate", "--no-input")
        ids = seed_base(env)
        ids["execution"] = str(uuid.UUID(psql(f"SELECT md5('execution' || {MEASURED_SHARE})::uuid")))
        results["sizes"]["small"] = grow("small", args.small, 0, ids["user"])
        # The big database starts as a copy of the small one (same users, workflows, newest executions).
        subprocess.run(
            ["psql", f"{PG}/postgres", "-qc", f'CREATE DATABASE "{DATABASES["big"]}" TEMPLATE "{DATABASES["small"]}"'],
            check=True,
            capture_output=True,
        )
        results["sizes"]["big"] = grow("big", args.big, args.small, ids["user"])
        for size in DATABASES:
            print(f"{size}: {results['sizes'][size]['rows']} (seeded in {results['sizes'][size]['seed_seconds']} s)")
        setup_django(env)
        measured = measure(ids, args.requests, args.rounds)
        for size in DATABASES:
            results["sizes"][size]["operations"] = measured[size]
        purge_queue(queue)
    finally:
        if "django" in sys.modules:
            from django.db import connection

            connection.close()
            connection.close_pool()
        for name in DATABASES.values():
            drop_database(name)
    small, big = measured["small"], measured["big"]
    summary = {}
    for name, row in small.items():
        if not isinstance(row, dict) or "median_ms" not in row:
            continue
        ratio = statistics.median(row["round_ratios"])  # per round: the same load on both sides
        summary[name] = {
            "small_ms": row["median_ms"],
            "big_ms": big[name]["median_ms"],
            "ratio": round(ratio, 2),
            "flat": ratio <= GOAL_RATIO,
            "cpu_ms": [row["cpu_median_ms"], big[name]["cpu_median_ms"]],
            "cpu_ratio": round(big[name]["cpu_median_ms"] / row["cpu_median_ms"], 2),
            "database_ms": [row["database_ms"], big[name]["database_ms"]],
            "queries": [row["queries"], big[name]["queries"]],
            "index_in_every_plan": big[name]["every_plan_uses_an_index"],
            "seq_scan_on_big_table": big[name]["seq_scan_on_big_table"],
        }
    results["summary"] = summary
    results["load_average_at_end"] = os.getloadavg()
    print(
        f"{'operation':32} {'small ms':>9} {'big ms':>9} {'ratio':>6} {'CPU ms small/big':>17} "
        f"{'SQL ms small/big':>17}  verdict"
    )
    for name, row in summary.items():
        verdict = "flat" if row["flat"] else "NOT FLAT"
        plans = "index" if row["index_in_every_plan"] else "NO INDEX"
        seq = f", Seq Scan on {', '.join(row['seq_scan_on_big_table'])}" if row["seq_scan_on_big_table"] else ""
        sql = "{:.2f}/{:.2f}".format(*row["database_ms"])
        cpu = "{:.2f}/{:.2f}".format(*row["cpu_ms"])
        print(
            f"{name:32} {row['small_ms']:9.2f} {row['big_ms']:9.2f} {row['ratio']:6.2f} {cpu:>17} {sql:>17}  "
            f"{verdict}, {plans}{seq}"
        )
    print(f"v1 list count: small {small['v1 list count']}, big {big['v1 list count']}")
    before = "before: v1 page with COUNT(*) OVER ()"
    results["summary"][before] = {"database_ms": [small[before]["database_ms"], big[before]["database_ms"]]}
    print("{}: {:.2f} ms small, {:.2f} ms big (SQL)".format(before, *results["summary"][before]["database_ms"]))
    print(
        "load average: {:.2f} {:.2f} {:.2f} at the start, {:.2f} {:.2f} {:.2f} at the end".format(
            *results["load_average_at_start"], *results["load_average_at_end"]
        )
    )
    print(f"written to {write_result('scale', results)}")


if __name__ == "__main__":
    main()
