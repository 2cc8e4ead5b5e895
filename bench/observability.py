"""Cost of observability: the baseline endpoints with metrics, JSON logging and tracing on, then off, in one run.

"on":  OBSERVABILITY_ENABLED=1 (django-prometheus middleware, database and cache wrappers, the request log line),
       LOG_FORMAT=json at INFO (one JSON line per request), PROMETHEUS_MULTIPROC_DIR set (multiprocess files),
       tracing with the exporter off (no OTEL_EXPORTER_OTLP_ENDPOINT: no provider, no instrumentation).
"off": OBSERVABILITY_ENABLED=0 (none of the above in the process), LOG_FORMAT=console.

gunicorn (production settings, 2 workers) on PostgreSQL with Redis; wrk on loopback. The modes alternate (ABBA) for
--rounds rounds and each figure is the median, so that drift on a shared machine hits both alike.
Usage: .venv/bin/python bench/observability.py [--duration 10] [--rounds 4]
"""

import argparse
import json
import os
import statistics
import tempfile

import psutil
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


def _gunicorn_processes(base: str) -> list[psutil.Process]:
    """The master and workers of the gunicorn bound to `base` (found by their GUNICORN_BIND)."""
    bind = base.removeprefix("http://")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "gunicorn" in " ".join(process.info["cmdline"] or []) and process.environ().get("GUNICORN_BIND") == bind:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _timed_wrk(base: str, processes: list[psutil.Process], url: str, **options) -> dict:
    """wrk, plus the server CPU time per request: steadier than req/s when other jobs share the cores."""
    before = _cpu_seconds(processes)
    result = wrk(url, **options)
    requests = result["requests_per_second"] * options["duration"]
    result["cpu_ms_per_request"] = (_cpu_seconds(processes) - before) * 1000 / requests if requests else 0.0
    return result


def measure(env: dict, duration: int) -> dict:
    with gunicorn(env) as base:
        token = login(base, "bench@example.com", PASSWORD)
        processes = _gunicorn_processes(base)
        projects = _timed_wrk(
            base,
            processes,
            f"{base}/api/v1/projects/",
            duration=duration,
            headers={"Authorization": f"Bearer {token}"},
        )
        body = json.dumps({"email": "bench@example.com", "password": PASSWORD})
        logins = _timed_wrk(
            base,
            processes,
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
            for key in ("requests_per_second", "p50_ms", "p99_ms", "non_2xx", "cpu_ms_per_request")
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
            for round_number in range(rounds):
                # off-on, on-off, ...: neither mode always runs first.
                for mode in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
                    runs[mode].append(measure(mode_env(mode, metrics_dir), duration))
    finally:
        drop_database(DATABASE)
    off, on = median_of(runs["off"]), median_of(runs["on"])
    ratios = {
        endpoint: round(on[endpoint]["requests_per_second"] / off[endpoint]["requests_per_second"], 3)
        for endpoint in ENDPOINTS
    }
    # At saturation throughput is inversely proportional to CPU per request: the same ratio, less noisy.
    cpu_ratios = {
        endpoint: round(off[endpoint]["cpu_ms_per_request"] / on[endpoint]["cpu_ms_per_request"], 3)
        for endpoint in ENDPOINTS
    }
    # The least disturbed round of each mode (other jobs only ever add CPU time).
    cpu_ratios_min = {
        endpoint: round(
            min(r[endpoint]["cpu_ms_per_request"] for r in runs["off"])
            / min(r[endpoint]["cpu_ms_per_request"] for r in runs["on"]),
            3,
        )
        for endpoint in ENDPOINTS
    }
    return {
        "duration_s": duration,
        "rounds": rounds,
        "load_average_at_end": os.getloadavg(),
        "off": off,
        "on": on,
        "ratio_on_off": ratios,
        "cpu_ratio_off_on": cpu_ratios,
        "cpu_ratio_off_on_min": cpu_ratios_min,
        "goal": GOAL,
        "runs": runs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    results = run(args.duration, args.rounds)
    print(f"{'endpoint':28} {'mode':4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cpu ms/req':>10}")
    for endpoint in ENDPOINTS:
        for mode in ("off", "on"):
            r = results[mode][endpoint]
            print(
                f"{endpoint:28} {mode:4} {r['requests_per_second']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['non_2xx']:8.0f} {r['cpu_ms_per_request']:10.2f}"
            )
        ratio = results["ratio_on_off"][endpoint]
        cpu_ratio = results["cpu_ratio_off_on"][endpoint]
        print(f"{endpoint:28} ratio on/off {ratio:.3f} ({'meets' if ratio >= GOAL else 'below'} the {GOAL} goal)")
        cpu_min = results["cpu_ratio_off_on_min"][endpoint]
        print(
            f"{endpoint:28} CPU-based ratio (off/on CPU per request) median {cpu_ratio:.3f}, best rounds {cpu_min:.3f}"
        )
    print(
        "load average at the end: {:.2f} {:.2f} {:.2f} (2 cores; other load skews both modes)".format(
            *results["load_average_at_end"]
        )
    )
    print(f"written to {write_result('observability', results)}")


if __name__ == "__main__":
    main()
