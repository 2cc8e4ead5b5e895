"""Cost of the audit trail (issue 10, "Measure"): write throughput with auditing on / off, the admin at 1,000,000
audit rows, and audit_verify's time and peak memory at 100,000 and 1,000,000 rows. All in one run.

write:  two gunicorns (production settings, 2 workers each) on one PostgreSQL database, one with AUDIT_ENABLED=1,
        one with AUDIT_ENABLED=0 (no history, no events); wrk alternates short runs between them (off-on, on-off,
        ...) on PATCH /api/v1/projects/{id}/ (a new description every request, over 20 projects, so that every
        request writes a history entry) and POST /api/v1/workflows/{id}/executions/ (queued to a queue of the
        benchmark's own that nobody consumes, deleted at the end). Figure: the median of the per-pair ratios.
verify: audit events inserted in bulk (generate_series, sequence NULL, as writers leave them), sealed by the real
        sealer (`manage.py audit_seal`), then `manage.py audit_verify` in a child process: wall time and peak RSS
        (wait4's ru_maxrss), at 0, 100,000 and 1,000,000 rows.
admin:  on the same 1,000,000 sealed rows, a logged-in superuser loads the audit event changelist and filtered
        pages from a gunicorn over HTTP (median of several loads each), plus the SQL of each page (test client).
It creates and drops the databases aiassistant_bench_audit and aiassistant_bench_audit_rows.
Usage: .venv/bin/python bench/audit.py [--duration 3] [--pairs 10] [--rows 1000000] [--small 100000] [--loads 7]
       [--only write|verify|admin ...]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import redis
from harness import (
    PG,
    PYTHON,
    ROOT,
    base_env,
    drop_database,
    gunicorn,
    gunicorn_processes,
    login,
    manage,
    recreate_database,
    timed_wrk,
    write_result,
    wrk_medians,
)

PASSWORD = "bench-password-Zx81!"
WRITE_DATABASE = "aiassistant_bench_audit"
ROWS_DATABASE = "aiassistant_bench_audit_rows"
GOAL_WRITE = 0.85  # audit on / off, req/s
GOAL_ADMIN_SECONDS = 1.0
ENDPOINTS = ("PATCH /api/v1/projects/{id}/", "POST /api/v1/workflows/{id}/executions/")

SEED = """
from accounts.models import User
from projects.services import project_create
from workflows.services import workflow_create
user = User.objects.create_user(email="bench@example.com", password="{password}")
projects = [project_create(name=f"Bench project {{n}}", description="benchmark", actor=user) for n in range(20)]
definition = {{"steps": [{{"id": "greet", "type": "transform", "config": {{"value": "Hello {{{{ input.name }}}}"}}}}]}}
workflow = workflow_create(project=projects[0], role="owner", name="bench", definition=definition, actor=user)
print(",".join(str(p.id) for p in projects))
print(workflow.id)
"""

# One Lua state per wrk thread: `thread` numbers them, `n` counts its requests, so every body is new.
PATCH_LUA = """
local ids = {%(ids)s}
local counter = 0
local tag = math.random(1, 1000000000)
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local id = ids[(counter %% #ids) + 1]
  local body = '{"description": "bench ' .. tag .. ' ' .. counter .. '"}'
  return wrk.format("PATCH", "/api/v1/projects/" .. id .. "/", nil, body)
end
"""
EXECUTION_LUA = """
local counter = 0
local tag = math.random(1, 1000000000)
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local body = '{"input": {"name": "user ' .. tag .. ' ' .. counter .. '"}}'
  return wrk.format("POST", "/api/v1/workflows/%(workflow)s/executions/", nil, body)
end
"""


def _psql(database: str, sql: str) -> str:
    result = subprocess.run(["psql", f"{PG}/{database}", "-qAtc", sql], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"psql failed: {result.stderr.strip()[-1000:]}")
    return result.stdout.strip()


# --- write throughput, on / off --------------------------------------------------------------------------------


class Target:
    """One gunicorn (audit on or off), logged in, with its processes for CPU accounting."""

    def __init__(self, base: str):
        self.base = base
        self.token = login(base, "bench@example.com", PASSWORD)
        self.processes = gunicorn_processes(base)

    def run(self, script: str, duration: int) -> dict:
        return timed_wrk(
            self.base,
            self.processes,
            f"{self.base}/",
            duration=duration,
            headers={"Authorization": f"Bearer {self.token}"},
            script=script,
        )


def run_write(duration: int, pairs: int) -> dict:
    queue = f"bench-audit-{uuid.uuid4().hex[:8]}"
    recreate_database(WRITE_DATABASE)
    # base_env leaves quotas unlimited: the load is far above the default 1,000 executions a day.
    env = {
        mode: base_env(WRITE_DATABASE, AUDIT_ENABLED=flag, WORKFLOW_EXECUTION_QUEUE=queue)
        for mode, flag in (("off", "0"), ("on", "1"))
    }
    runs: dict[str, dict[str, list[dict]]] = {endpoint: {"off": [], "on": []} for endpoint in ENDPOINTS}
    try:
        manage(env["on"], "migrate", "--no-input")
        project_ids, workflow_id = manage(env["on"], "shell", "-c", SEED.format(password=PASSWORD)).split()[-2:]
        scripts = {
            ENDPOINTS[0]: PATCH_LUA % {"ids": ", ".join(f'"{pk}"' for pk in project_ids.split(","))},
            ENDPOINTS[1]: EXECUTION_LUA % {"workflow": workflow_id},
        }
        counted = {"events_before": int(_psql(WRITE_DATABASE, "SELECT count(*) FROM audit_auditevent"))}
        with gunicorn(env["off"]) as off_base, gunicorn(env["on"]) as on_base:
            targets = {"off": Target(off_base), "on": Target(on_base)}
            for endpoint in ENDPOINTS:  # warm-up, not counted
                for target in targets.values():
                    target.run(scripts[endpoint], 1)
            counted["events_after_warmup"] = int(_psql(WRITE_DATABASE, "SELECT count(*) FROM audit_auditevent"))
            counted["history_after_warmup"] = int(_psql(WRITE_DATABASE, "SELECT count(*) FROM audit_modelhistory"))
            for endpoint in ENDPOINTS:
                for number in range(pairs):
                    for mode in ("off", "on") if number % 2 == 0 else ("on", "off"):
                        runs[endpoint][mode].append(targets[mode].run(scripts[endpoint], duration))
        counted["events_after"] = int(_psql(WRITE_DATABASE, "SELECT count(*) FROM audit_auditevent"))
        counted["history_after"] = int(_psql(WRITE_DATABASE, "SELECT count(*) FROM audit_modelhistory"))
    finally:
        drop_database(WRITE_DATABASE)
        broker = redis.Redis.from_url(env["on"]["CELERY_BROKER_URL"])
        broker.delete(queue, f"_kombu.binding.{queue}")
    requests_on = sum(run["requests_per_second"] * duration for endpoint in ENDPOINTS for run in runs[endpoint]["on"])
    summary = {}
    for endpoint in ENDPOINTS:
        # A run that completed no request (the shared machine stalled) has no ratio: its pair is left out.
        pairs_done = [
            (a, b)
            for a, b in zip(runs[endpoint]["off"], runs[endpoint]["on"], strict=True)
            if min(a["requests_per_second"], b["requests_per_second"], a["cpu_ms_per_request"], b["cpu_ms_per_request"])
            > 0
        ]
        off, on = [a for a, _ in pairs_done], [b for _, b in pairs_done]
        summary[endpoint] = {
            "off": wrk_medians(off),
            "on": wrk_medians(on),
            "ratio_on_off": round(
                statistics.median(
                    b["requests_per_second"] / a["requests_per_second"] for a, b in zip(off, on, strict=True)
                ),
                3,
            ),
            "cpu_ratio_off_on": round(
                statistics.median(
                    a["cpu_ms_per_request"] / b["cpu_ms_per_request"] for a, b in zip(off, on, strict=True)
                ),
                3,
            ),
            "pairs_left_out": len(runs[endpoint]["off"]) - len(pairs_done),
            "per_pair": [
                round(b["requests_per_second"] / a["requests_per_second"], 3) for a, b in zip(off, on, strict=True)
            ],
        }
    # The "on" side writes one event per request (and a history entry per PATCH); the "off" side none.
    counted["events_per_on_request"] = (
        round((counted["events_after"] - counted["events_after_warmup"]) / requests_on, 3) if requests_on else None
    )
    return {
        "duration_s": duration,
        "pairs": pairs,
        "goal": GOAL_WRITE,
        "results": summary,
        "rows": counted,
        "runs": runs,
    }


# --- 1,000,000 sealed rows: audit_verify, then the admin -------------------------------------------------------

# A realistic mix: requests (with changes), logins, denials, operations; 1,000 actors, 200 projects, 400 days.
INSERT_EVENTS = """
WITH actors AS (SELECT array_agg(md5('actor' || g)::uuid) AS a FROM generate_series(1, 1000) g),
     projects AS (SELECT array_agg(md5('project' || g)::uuid) AS p FROM generate_series(1, 200) g)
INSERT INTO audit_auditevent (id, created_at, updated_at, sequence, category, action, resource_type, resource_id,
    project_id, status_code, request_id, trace_id, actor_kind, actor_id, actor_label, ip, ip_hash, user_agent,
    user_agent_hash, changes, detail)
SELECT md5('event' || g)::uuid,
       now() - interval '400 days' + (g - 1) * ({span}::float8 / {count}) * interval '1 second',
       now() - interval '400 days' + (g - 1) * ({span}::float8 / {count}) * interval '1 second',
       {sequence},
       (ARRAY['request','request','request','request','auth','auth','permission','operation'])[1 + g % 8],
       (ARRAY['PATCH /api/v1/projects/{{id}}/','POST /api/v1/workflows/{{id}}/executions/',
              'POST /api/v1/projects/{{project_id}}/workflows/','DELETE /api/v1/projects/{{id}}/',
              'auth.login','auth.login.failed','permission.denied','backup.run'])[1 + g % 8],
       (ARRAY['project','execution','workflow','project','user','user','project','backup'])[1 + g % 8],
       md5('resource' || (g % 50000))::uuid::text,
       (SELECT p FROM projects)[1 + g % 200],
       (ARRAY[200, 202, 201, 204, 200, 401, 403, NULL])[1 + g % 8],
       md5('request' || g),
       substr(md5('trace' || g), 1, 32),
       CASE WHEN g % 8 = 7 THEN 'system' ELSE 'user' END,
       CASE WHEN g % 8 = 7 THEN NULL ELSE (SELECT a FROM actors)[1 + (g::bigint * 7919) % 1000] END,
       CASE WHEN g % 8 = 7 THEN 'system:beat' ELSE '' END,
       ('10.' || (g % 250) || '.' || (g % 199) || '.' || (g % 97))::inet,
       encode(sha256(convert_to('10.' || (g % 250) || '.' || (g % 199) || '.' || (g % 97), 'UTF8')), 'hex'),
       'bench-client/1.' || (g % 20),
       encode(sha256(convert_to('bench-client/1.' || (g % 20), 'UTF8')), 'hex'),
       CASE WHEN g % 8 = 0 THEN jsonb_build_object('description', jsonb_build_array('before ' || g, 'after ' || g))
            ELSE NULL END,
       '{{}}'::jsonb
FROM generate_series({first}, {last}) g
"""
SPAN_SECONDS = 400 * 86400 - 3600  # the newest row is an hour old: the seals are newer, nothing is "late"
SAMPLE = 20_000  # at most this many rows the real sealer numbers and seals (its rate); the rest is sealed in bulk


def insert_events(first: int, last: int, total: int, *, sequence_offset: int | None = None) -> float:
    """Rows first..last of `total`, spread evenly over 400 days, without a sequence (as writers leave them) or,
    with `sequence_offset`, numbered g + offset (for the bulk sealer); returns the seconds it took."""
    sequence = "NULL" if sequence_offset is None else f"g + {sequence_offset}"
    begin = time.monotonic()
    for start in range(first, last + 1, 100_000):  # statements of 100,000 rows
        end = min(last, start + 99_999)
        _psql(
            ROWS_DATABASE,
            INSERT_EVENTS.format(first=start, last=end, span=SPAN_SECONDS, count=total, sequence=sequence),
        )
    _psql(ROWS_DATABASE, "VACUUM ANALYZE audit_auditevent")
    return time.monotonic() - begin


# Run by `manage.py shell` (this file is bench/audit.py, so this process cannot import the project's `audit`).
BULK_SEAL = """
from audit import chain, sealing
from audit.models import AuditSeal, SealKind

last = AuditSeal.objects.order_by("-last_sequence").first()
previous = last.seal_hash if last else chain.GENESIS
batch = []
written = 0


def flush():
    global previous, written
    seal = sealing._link(
        kind=SealKind.SEAL, first=batch[0].sequence, last=batch[-1].sequence,
        hashes=b"".join(row.hash for row in batch), previous=previous,
    )
    seal.save()
    sealing._store_copy(seal, batch)
    previous, written = seal.seal_hash, written + 1
    batch.clear()


for row in chain.sealed_rows(since={since}):
    batch.append(row)
    if len(batch) == sealing.SEAL_BATCH:
        flush()
if batch:
    flush()
print(written)
"""


def bulk_seal(env: dict, since: int) -> int:
    """Seal the rows numbered from `since` on as the sealer does (chain.row_hash over the chain's columns,
    SEAL_BATCH rows a seal, sealing._link, the copy in backup storage), without the sealer's UPDATE of each row's
    sequence (the rows were inserted with it). audit_verify then checks every row hash, seal link, HMAC and copy,
    so a seal made differently from the sealer's would fail it. Returns the seals written."""
    return int(manage(env, "shell", "-c", BULK_SEAL.format(since=since)).split()[-1])


def timed_child(args: list[str], env: dict) -> dict:
    """Run a manage.py command as a child: wall seconds, its peak RSS (MiB, from wait4), the last output line."""
    with tempfile.TemporaryFile() as out:
        begin = time.monotonic()
        proc = subprocess.Popen([PYTHON, "manage.py", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - begin
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} exited {proc.returncode}: {output[-2000:]}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "output": output.splitlines()[-1] if output else "",
    }


def _count(sql: str) -> int:
    return int(_psql(ROWS_DATABASE, sql) or 0)


def run_rows(env: dict, small: int, rows: int, loads: int, do_admin: bool) -> dict:
    """The real sealer on SAMPLE rows, then verify at 0, `small` and `rows` events, then the admin at `rows`."""
    found: dict = {"verify": {}, "insert_seconds": {}, "bulk_seal_seconds": {}}
    found["verify"]["0"] = timed_child(["audit_verify"], env)
    sample = min(SAMPLE, small // 5)
    found["insert_seconds"]["sample"] = round(insert_events(1, sample, rows), 1)
    sealer = timed_child(["audit_seal"], env)
    sealed = int(sealer["output"].split()[1])
    sealer["rows_per_second"] = round(sealed / sealer["seconds"], 1)
    found["sealer"] = sealer
    print(f"real sealer: {sealer}")
    for target in (small, rows):
        present = _count("SELECT count(*) FROM audit_auditevent")
        since = _count("SELECT coalesce(max(last_sequence), 0) + 1 FROM audit_auditseal")
        first = present + 1 - _count("SELECT count(*) FROM audit_auditevent WHERE action = 'audit.verify'")
        found["insert_seconds"][str(target)] = round(
            insert_events(first, target, rows, sequence_offset=since - first), 1
        )
        begin = time.monotonic()
        bulk_seal(env, since)
        found["bulk_seal_seconds"][str(target)] = round(time.monotonic() - begin, 1)
        timed_child(["audit_seal"], env)  # the verify event of the previous round, if any
        found["verify"][str(target)] = timed_child(["audit_verify"], env)
        print(f"{target} rows: verified {found['verify'][str(target)]}")
    found["rows"] = _count("SELECT count(*) FROM audit_auditevent")
    found["seals"] = _count("SELECT count(*) FROM audit_auditseal")
    if do_admin:
        found["admin"] = run_admin(env, loads)
    return found


def admin_pages() -> dict[str, str]:
    actor = uuid.UUID(_psql(ROWS_DATABASE, "SELECT md5('actor' || 17)::uuid"))
    project = uuid.UUID(_psql(ROWS_DATABASE, "SELECT md5('project' || 42)::uuid"))
    request_id = _psql(ROWS_DATABASE, "SELECT md5('request' || 50000)")
    week_ago = (datetime.datetime.now(tz=datetime.UTC).date() - datetime.timedelta(days=7)).isoformat()
    base = "/admin/audit/auditevent/"
    return {
        "changelist": base,
        "changelist, page 100": f"{base}?p=100",
        "filtered: actor": f"{base}?actor={actor}",
        "filtered: project + category": f"{base}?project={project}&category__exact=request",
        "filtered: action (exact)": f"{base}?action=auth.login.failed",
        "filtered: status 403, past 7 days": (f"{base}?status=403&created_at__gte={week_ago}"),
        "search: request id": f"{base}?q={request_id}",
        "model history changelist": "/admin/audit/modelhistory/",
    }


ADMIN_SQL = """
import json
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from accounts.models import User

user = User.objects.create_superuser(email="auditor@example.com", password="{password}")
client = Client(HTTP_HOST="127.0.0.1", secure=True)
client.force_login(user)
cookie = settings.SESSION_COOKIE_NAME + "=" + client.cookies[settings.SESSION_COOKIE_NAME].value
found = {{"cookie": cookie, "pages": {{}}}}
for name, path in {pages!r}.items():
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(path + ": " + str(response.status_code) + " " + repr(response.content[:500]))
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
    found["pages"][name] = {{
        "path": path, "queries": len(captured.captured_queries),
        "slowest_query_ms": round(float(slowest["time"]) * 1000, 1), "slowest_query": slowest["sql"][:400],
    }}
print(json.dumps(found))
"""


def run_admin(env: dict, loads: int) -> dict:
    """A superuser's session and the SQL of each page (Django's test client, in `manage.py shell`), then each
    page loaded `loads` times over HTTP from a gunicorn with that session."""
    pages = admin_pages()
    manage(env, "collectstatic", "--no-input")  # production settings serve the admin's files from a manifest
    measured = json.loads(manage(env, "shell", "-c", ADMIN_SQL.format(password=PASSWORD, pages=pages)).splitlines()[-1])
    found = measured["pages"]
    with gunicorn(env) as base:
        for name, path in pages.items():
            times = []
            for _ in range(loads + 1):  # the first load of each page warms its worker; not counted
                request = urllib.request.Request(f"{base}{path}", headers={"Cookie": measured["cookie"]})
                begin = time.perf_counter()
                with urllib.request.urlopen(request, timeout=60) as response:  # loopback only
                    body = response.read()
                    status = response.status
                times.append(time.perf_counter() - begin)
                if status != 200 or b"result_list" not in body:
                    raise SystemExit(f"{path}: {status}, not a changelist with results")
            found[name]["http_seconds"] = [round(t, 3) for t in times[1:]]
            found[name]["median_seconds"] = round(statistics.median(times[1:]), 3)
            found[name]["max_seconds"] = round(max(times[1:]), 3)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--pairs", type=int, default=10, help="off/on pairs per endpoint")
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit rows for the admin and the big verify")
    parser.add_argument("--small", type=int, default=100_000, help="audit rows for the small verify")
    parser.add_argument("--loads", type=int, default=7, help="loads of each admin page")
    parser.add_argument("--only", nargs="+", choices=("write", "verify", "admin"), default=["write", "verify", "admin"])
    args = parser.parse_args()
    started = datetime.datetime.now(tz=datetime.UTC)
    results: dict = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_at_start": os.getloadavg(),
        "command": "python bench/audit.py " + " ".join(sys.argv[1:]),
    }
    if "write" in args.only:
        results["write"] = run_write(args.duration, args.pairs)
        print(f"{'endpoint':42} {'mode':4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cpu ms/req':>10}")
        for endpoint, summary in results["write"]["results"].items():
            for mode in ("off", "on"):
                r = summary[mode]
                print(
                    f"{endpoint:42} {mode:4} {r['requests_per_second']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                    f"{r['non_2xx']:8.0f} {r['cpu_ms_per_request']:10.2f}"
                )
            ratio = summary["ratio_on_off"]
            print(
                f"{endpoint:42} median pair ratio on/off: req/s {ratio:.3f} "
                f"({'meets' if ratio >= GOAL_WRITE else 'below'} the {GOAL_WRITE} goal), "
                f"CPU off/on {summary['cpu_ratio_off_on']:.3f}; pairs {summary['per_pair']}"
            )
        print(f"audit rows: {results['write']['rows']}")
    if "verify" in args.only or "admin" in args.only:
        recreate_database(ROWS_DATABASE)
        with tempfile.TemporaryDirectory(prefix="bench-audit-seals-") as seals_dir:
            env = base_env(ROWS_DATABASE, BACKUP_LOCAL_DIR=seals_dir)
            try:
                manage(env, "migrate", "--no-input")
                small = args.small if "verify" in args.only else args.rows
                results["rows"] = run_rows(env, small, args.rows, args.loads, "admin" in args.only)
            finally:
                drop_database(ROWS_DATABASE)
        rows = results["rows"]
        sealer = rows["sealer"]
        print(
            f"real sealer (audit_seal) on {rows['sealer']['output'].split()[1]} unsealed rows: {sealer['seconds']} s, "
            f"{sealer['rows_per_second']} rows/s, peak RSS {sealer['peak_rss_mib']} MiB"
        )
        print(f"{'rows':>9} {'verify s':>9} {'CPU s':>7} {'peak RSS MiB':>12}")
        for count, verified in rows["verify"].items():
            print(
                f"{int(count):9d} {verified['seconds']:9.2f} {verified['cpu_seconds']:7.2f} "
                f"{verified['peak_rss_mib']:12.1f}  {verified['output']}"
            )
        for name, page in rows.get("admin", {}).items():
            verdict = "ok" if page["median_seconds"] < GOAL_ADMIN_SECONDS else "SLOW"
            print(
                f"admin {name:36} median {page['median_seconds']:6.3f} s (max {page['max_seconds']:.3f}) {verdict}; "
                f"{page['queries']} queries, slowest {page['slowest_query_ms']:.1f} ms"
            )
    results["load_average_at_end"] = os.getloadavg()
    print(
        "load average: {:.2f} {:.2f} {:.2f} at the start, {:.2f} {:.2f} {:.2f} at the end".format(
            *results["load_average_at_start"], *results["load_average_at_end"]
        )
    )
    name = "audit" if len(args.only) == 3 else "audit-" + "-".join(args.only)
    print(f"written to {write_result(name, results)}")


if __name__ == "__main__":
    main()
