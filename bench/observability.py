"""Cost of observability: the baseline endpoints with metrics, JSON logging and tracing on, then off, in one run.

"on":  OBSERVABILITY_ENABLED=1 (django-prometheus middleware, database and cache wrappers, the request log line),
       LOG_FORMAT=json at INFO (one JSON line per request), PROMETHEUS_MULTIPROC_DIR set (multiprocess files),
       tracing with the exporter off (no OTEL_EXPORTER_OTLP_ENDPOINT: no provider, no instrumentation).
"off": OBSERVABILITY_ENABLED=0 (none of the above in the process), LOG_FORMAT=console.

gunicorn (production settings, 2 workers) on PostgreSQL with Redis; wrk on loopback. The modes alternate for
--rounds rounds and each figure is the median, so that drift on a shared machine hits both alike.
Usage: .venv/bin/python bench/observability.py [--duration 10] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import tempfile

from harness import (
    base_env,
    drop_database,
    gunicorn,
    login,
    manage,
    recreate_database,
    seed_user_with_projects,
    write_result,
    wrk,
)

PASSWORD = "bench-password-Zx81!"
DATABASE = "aiassistant_bench_obs"
ENDPOINTS = ("GET /api/v1/projects/", "POST /api/v1/auth/login/")
GOAL = 0.95


def mode_env(mode: str, metrics_dir: str) -> dict:
    env = base_env(DATABASE, LOG_LEVEL="INFO")
    for name in ("PROMETHEUS_MULTIPROC_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        env.pop(name, None)
    if mode == "on":
        env.update(OBSERVABILITY_ENABLED="1", LOG_FORMAT="json", PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    else:
        env.update(OBSERVABILITY_ENABLED="0", LOG_FORMAT="console")
    return env


def measure(env: dict, duration: int) -> dict:
    with gunicorn(env) as base:
        token = login(base, "bench@example.com", PASSWORD)
        projects = wrk(f"{base}/api/v1/projects/", duration=duration, headers={"Authorization": f"Bearer {token}"})
        body = json.dumps({"email": "bench@example.com", "password": PASSWORD})
        logins = wrk(
            f"{base}/api/v1/auth/login/",
            duration=duration,
            method="POST",
            body=body,
            headers={"Content-Type": "application/json"},
        )
    return {ENDPOINTS[0]: projects, ENDPOINTS[1]: logins}


def median_of(runs: list[dict]) -> dict:
    return {
        endpoint: {
            key: statistics.median(run[endpoint][key] for run in runs)
            for key in ("requests_per_second", "p50_ms", "p99_ms", "non_2xx")
        }
        for endpoint in ENDPOINTS
    }


def run(duration: int, rounds: int) -> dict:
    recreate_database(DATABASE)
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as metrics_dir:
            setup_env = mode_env("off", metrics_dir)
            manage(setup_env, "migrate", "--no-input")
            seed_user_with_projects(setup_env, PASSWORD)
            for _ in range(rounds):
                for mode in ("off", "on"):
                    runs[mode].append(measure(mode_env(mode, metrics_dir), duration))
    finally:
        drop_database(DATABASE)
    off, on = median_of(runs["off"]), median_of(runs["on"])
    ratios = {
        endpoint: round(on[endpoint]["requests_per_second"] / off[endpoint]["requests_per_second"], 3)
        for endpoint in ENDPOINTS
    }
    return {
        "duration_s": duration,
        "rounds": rounds,
        "load_average_at_end": os.getloadavg(),
        "off": off,
        "on": on,
        "ratio_on_off": ratios,
        "goal": GOAL,
        "runs": runs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = run(args.duration, args.rounds)
    print(f"{'endpoint':28} {'mode':4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for endpoint in ENDPOINTS:
        for mode in ("off", "on"):
            r = results[mode][endpoint]
            print(
                f"{endpoint:28} {mode:4} {r['requests_per_second']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['non_2xx']:8.0f}"
            )
        ratio = results["ratio_on_off"][endpoint]
        print(f"{endpoint:28} ratio on/off {ratio:.3f} ({'meets' if ratio >= GOAL else 'below'} the {GOAL} goal)")
    print(
        "load average at the end: {:.2f} {:.2f} {:.2f} (2 cores; other load skews both modes)".format(
            *results["load_average_at_end"]
        )
    )
    print(f"written to {write_result('observability', results)}")


if __name__ == "__main__":
    main()
