"""The request path against the yardstick: our list and execution-start endpoints next to a bare DRF app.

Goals (issue 13): `GET /api/v1/projects/` and `GET /api/v2/projects/` with the full stack on (metrics, JSON logs
at INFO, throttles, audit) at >= 1.0x the bare DRF + simplejwt app of ../shared/bench-reference (`GET /items/`,
20 rows), and `POST /api/v1/workflows/{id}/executions/` at >= 0.8x our own v1 list, all in one run.

Both servers run on this machine at once: ours with production settings (config/gunicorn.conf.py, 2 workers,
PostgreSQL with Django's pool, Redis for cache and throttles), the reference with its own settings (2 gunicorn
workers, persistent connections) on its fixed database `anchors_http`. wrk on loopback runs short rounds that
rotate the order of the four endpoints, so that each round sees the same machine load; each figure is the
median over rounds of the per-round ratio. Executions are accepted, not run (no worker consumes the queue:
this measures the request path, bench/executions.py measures the engine); the broker database is flushed.

The lists are measured twice, on two gunicorns of ours side by side: with the per-user read cache of production
(`PROJECT_LIST_CACHE_SECONDS`, 30 s: wrk repeats one user's request, so nearly every answer is a hit) and with it
off (`*_uncached`: every request authenticates, queries and serializes). `--ablation` adds the uncached v1 list and
the execution start on gunicorns with one feature group off each (the request log line, metrics and database/cache
instrumentation, audit), and all of them off: what each costs, and what is left with none of them. `--profile`
then records the reference, the uncached v1 list and the execution start under load with py-spy, and prints the
share of the samples each part of a request takes (PARTS) next to each other.

Usage: .venv/bin/python bench/request_path.py [--duration 5] [--rounds 6] [--profile] [--ablation]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

from harness import (
    PYTHON,
    ROOT,
    base_env,
    drop_database,
    free_port,
    gunicorn,
    gunicorn_processes,
    login,
    manage,
    profile_lines,
    profile_shares,
    py_spy,
    recreate_database,
    timed_wrk,
    write_result,
    wrk_medians,
)

PASSWORD = "bench-password-Zx81!"
DATABASE = "aiassistant_bench_path"
REFERENCE = Path(os.environ.get("BENCH_REFERENCE", ROOT.parent / "shared" / "bench-reference"))
REFERENCE_DATABASE = "anchors_http"  # fixed in the reference's settings
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")
GOALS = {
    "v1_vs_reference": 1.0,
    "v2_vs_reference": 1.0,
    "v1_uncached_vs_reference": 1.0,
    "v2_uncached_vs_reference": 1.0,
    "start_vs_v1": 0.8,
    "start_vs_v1_uncached": 0.8,
}
UNCACHED = {"PROJECT_LIST_CACHE_SECONDS": "0"}
# --ablation: the uncached v1 list with one feature group off each, then all of them (config/settings/base.py).
ABLATION = {
    "no_request_log": {"LOG_LEVEL": "WARNING"},
    "no_observability": {"OBSERVABILITY_ENABLED": "false"},
    "no_audit": {"AUDIT_ENABLED": "false"},
    "none_of_these": {"LOG_LEVEL": "WARNING", "OBSERVABILITY_ENABLED": "false", "AUDIT_ENABLED": "false"},
}

SEED = """
from accounts.models import User
from projects.services import project_create
from workflows.services import workflow_create
user = User.objects.create_user(email="bench@example.com", password="{password}")
projects = [project_create(name=f"Bench project {{n}}", description="benchmark", actor=user) for n in range(20)]
definition = {{"steps": [{{"id": "greet", "type": "transform", "config": {{"value": "Hello {{{{ input.name }}}}"}}}}]}}
workflow = workflow_create(project=projects[0], role="owner", name="bench", definition=definition, actor=user)
print(workflow.id)
"""


@contextmanager
def reference_server():
    """The bare DRF app, copied to a scratch folder (its own folder is read-only in CI), on 2 gunicorn workers."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-reference-"))
    app = scratch / "bench-reference"
    shutil.copytree(REFERENCE, app)
    recreate_database(REFERENCE_DATABASE)
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "anchorsite.settings"
    for args in (["manage.py", "migrate", "--no-input"], ["setup_data.py"]):
        subprocess.run([PYTHON, *args], cwd=app, env=env, check=True, capture_output=True)
    port = free_port()
    gunicorn_bin = str(Path(PYTHON).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn_bin, "-w", "2", "-b", f"127.0.0.1:{port}", "anchorsite.wsgi:application"],
        cwd=app,
        env=dict(env, GUNICORN_BIND=f"127.0.0.1:{port}"),  # gunicorn_processes() finds its processes by this
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/plain/", timeout=2)  # loopback only
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the reference app did not start") from None
                time.sleep(0.3)
        yield base, (app / "token.txt").read_text().strip()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        drop_database(REFERENCE_DATABASE)
        shutil.rmtree(scratch, ignore_errors=True)


def _flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()


# Where a request's time goes, by part (harness.profile_shares): a sample is counted in the first part it touches.
PARTS = [
    ("Redis round trips", ("redis/client.py",)),
    ("PostgreSQL round trips", ("psycopg/cursor.py",)),
    ("SQL built and compiled, rows made models", ("django/db/models/",)),
    ("serialization", ("rest_framework/serializers.py", "rest_framework/fields.py", "common/serializers.py")),
    ("JSON rendering", ("rest_framework/renderers.py", "json/encoder.py")),
    ("authentication", ("rest_framework_simplejwt/", "jwt/", "accounts/tokens.py", "identity/authentication.py")),
    ("throttles", ("throttling.py",)),
    ("rest of the view (DRF, pagination, filters, envelope)", ("rest_framework/", "django_filters/")),
    ("middleware and Django's handler", ("django/core/handlers/",)),
]
IN_REQUEST = "handle_request (gunicorn/workers/sync.py"  # a sync worker serving one request: HTTP included


def spy_profile(base: str, path: str, options: dict, seconds: int = 12) -> dict:
    """py-spy of a gunicorn (master and workers) while wrk loads one endpoint: the share of each part of PARTS,
    and the functions with the largest inclusive share."""
    processes = gunicorn_processes(base)
    pids = {process.pid for process in processes}
    master = next(process for process in processes if process.ppid() not in pids)
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "profile.raw"
        spy = py_spy(master.pid, seconds, raw)
        time.sleep(1)  # py-spy attached
        timed_wrk(base, processes, base + path, duration=seconds - 2, **options)
        spy.wait(timeout=60)
        return {
            "shares": profile_shares(raw, IN_REQUEST, PARTS),
            "top": profile_lines(raw, "WSGIHandler.__call__ (wsgi.py)", top=30),
        }


def run(duration: int, rounds: int, profile: bool, ablation: bool) -> dict:
    started = datetime.datetime.now(tz=datetime.UTC)
    load_at_start = os.getloadavg()
    recreate_database(DATABASE)
    env = base_env(DATABASE, LOG_LEVEL="INFO", CELERY_BROKER_URL=BROKER)
    variants = {
        "cached": {},
        "uncached": UNCACHED,
        **({name: dict(UNCACHED, **extra) for name, extra in ABLATION.items()} if ablation else {}),
    }
    runs: dict[str, list[dict]] = {}
    found: dict = {}
    try:
        manage(env, "migrate", "--no-input")
        workflow_id = manage(env, "shell", "-c", SEED.format(password=PASSWORD)).strip().splitlines()[-1]
        with reference_server() as (reference, reference_token), ExitStack() as servers:
            bases = {
                name: servers.enter_context(gunicorn(dict(env, **extra), workers=2)) for name, extra in variants.items()
            }
            token = login(bases["cached"], "bench@example.com", PASSWORD)
            auth = {"headers": {"Authorization": f"Bearer {token}"}}
            start = {
                "headers": {**auth["headers"], "Content-Type": "application/json"},
                "method": "POST",
                "body": json.dumps({"input": {"name": "bench"}}),
            }
            start_path = f"/api/v1/workflows/{workflow_id}/executions/"
            targets = {  # name: (server base, path, wrk options)
                "reference": (reference, "/items/", {"headers": {"Authorization": f"Bearer {reference_token}"}}),
                "v1": (bases["cached"], "/api/v1/projects/", auth),
                "v2": (bases["cached"], "/api/v2/projects/", auth),
                "v1_uncached": (bases["uncached"], "/api/v1/projects/", auth),
                "v2_uncached": (bases["uncached"], "/api/v2/projects/", auth),
                "start": (bases["cached"], start_path, start),
                **{f"v1_{name}": (bases[name], "/api/v1/projects/", auth) for name in ABLATION if name in bases},
                **{f"start_{name}": (bases[name], start_path, start) for name in ABLATION if name in bases},
            }
            processes = {base: gunicorn_processes(base) for base in {base for base, _, _ in targets.values()}}
            for base, path, options in targets.values():  # warm-up, not counted
                timed_wrk(base, processes[base], base + path, duration=2, **options)
            names = list(targets)
            runs = {name: [] for name in names}
            for number in range(rounds):
                order = names[number % len(names) :] + names[: number % len(names)]
                for name in order:
                    base, path, options = targets[name]
                    runs[name].append(timed_wrk(base, processes[base], base + path, duration=duration, **options))
                _flush_broker()
            if profile:
                found["profiles"] = {
                    name: spy_profile(*targets[name]) for name in ("reference", "v1_uncached", "start")
                }
    finally:
        _flush_broker()
        drop_database(DATABASE)
    ratios = {
        f"{name}_vs_reference": _ratios(runs[name], runs["reference"]) for name in runs if name[:2] in ("v1", "v2")
    }
    ratios["start_vs_v1"] = _ratios(runs["start"], runs["v1"])
    ratios["start_vs_v1_uncached"] = _ratios(runs["start"], runs["v1_uncached"])
    for name in ABLATION:  # starting executions against the list, both with the same features off
        if f"start_{name}" in runs:
            ratios[f"start_{name}_vs_v1_{name}"] = _ratios(runs[f"start_{name}"], runs[f"v1_{name}"])
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "duration_s": duration,
        "rounds": rounds,
        "goals": GOALS,
        "variants": variants,
        "medians": {name: wrk_medians(results) for name, results in runs.items()},
        "median_ratios": {name: round(statistics.median(values), 3) for name, values in ratios.items()},
        "per_round_ratios": ratios,
        "runs": runs,
        **found,
    }


def _ratios(ours: list[dict], theirs: list[dict]) -> list[float]:
    return [round(a["requests_per_second"] / b["requests_per_second"], 3) for a, b in zip(ours, theirs, strict=True)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the four endpoints")
    parser.add_argument("--profile", action="store_true", help="also py-spy the reference, the uncached list, start")
    parser.add_argument("--ablation", action="store_true", help="also the uncached v1 list with features off")
    args = parser.parse_args()
    results = run(args.duration, args.rounds, args.profile, args.ablation)
    print(
        f"{'endpoint':22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cpu ms/req':>10} "
        f"{'pg ms/req':>9} {'redis ms/req':>12}"
    )
    for name, medians in results["medians"].items():
        print(
            f"{name:22} {medians['requests_per_second']:9.1f} {medians['p50_ms']:8.2f} {medians['p99_ms']:8.2f} "
            f"{medians['non_2xx']:8.0f} {medians['cpu_ms_per_request']:10.2f} "
            f"{medians['postgres_cpu_ms_per_request']:9.2f} {medians['redis_cpu_ms_per_request']:12.2f}"
        )
    for name, ratio in results["median_ratios"].items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else " ({} the goal {})".format("meets" if ratio >= goal else "below", goal)
        rounds = results["per_round_ratios"][name]
        print(f"median ratio {name}: {ratio:.3f}{verdict}; rounds {rounds}")
    profiles = results.get("profiles", {})
    if profiles:
        print(f"{'share of the samples (%)':55} " + " ".join(f"{name:>12}" for name in profiles))
        for part in next(iter(profiles.values()))["shares"]:
            print(f"{part:55} " + " ".join(f"{profile['shares'][part]:12.1f}" for profile in profiles.values()))
        for name, profile in profiles.items():
            print(f"-- {name}: " + "\n".join(profile["top"]))
    print(
        "load average: {:.2f} {:.2f} {:.2f} at the start, {:.2f} {:.2f} {:.2f} at the end ({} cores)".format(
            *results["load_average_at_start"], *results["load_average_at_end"], results["machine"]["cpus"]
        )
    )
    print(f"written to {write_result('request_path', results)}")
    failed = {name: medians["non_2xx"] for name, medians in results["medians"].items() if medians["non_2xx"]}
    if failed:
        raise SystemExit(f"non-2xx answers (median per run) {failed}: these figures do not measure the endpoint")


if __name__ == "__main__":
    main()
