"""Cost of observability: the baseline endpoints with metrics, JSON logging and tracing on, then off, in one run.

"on":  OBSERVABILITY_ENABLED=1 (django-prometheus middleware, database and cache wrappers, the request log line),
       LOG_FORMAT=json at INFO (one JSON line per request), PROMETHEUS_MULTIPROC_DIR set (multiprocess files),
       tracing with the exporter off (no OTEL_EXPORTER_OTLP_ENDPOINT: no provider, no instrumentation).
"off": OBSERVABILITY_ENABLED=0 (none of the above in the process), LOG_FORMAT=console.

Two gunicorns (production settings, 2 workers each: one "off", one "on") run side by side on PostgreSQL with
Redis; wrk on loopback alternates short runs between them (off-on, on-off, ...). Each pair of adjacent runs sees
the same machine load, so the median of the per-pair ratios holds up on a machine shared with other jobs.
Besides req/s and p99 it reports the gunicorn processes' CPU time per request.
Usage: .venv/bin/python bench/observability.py [--duration 3] [--pairs 12]
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
    gunicorn_processes,
    login,
    manage,
    recreate_database,
    seed_user_with_projects,
    timed_wrk,
    write_result,
    wrk_medians,
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


class Target:
    """One running gunicorn (one mode), logged in, with its processes for CPU accounting."""

    def __init__(self, base: str):
        self.base = base
        self.token = login(base, "bench@example.com", PASSWORD)
        self.processes = gunicorn_processes(base)

    def run(self, endpoint: str, duration: int) -> dict:
        if endpoint == ENDPOINTS[0]:
            return timed_wrk(
                self.base,
                self.processes,
                f"{self.base}/api/v1/projects/",
                duration=duration,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        body = json.dumps({"email": "bench@example.com", "password": PASSWORD})
        return timed_wrk(
            self.base,
            self.processes,
            f"{self.base}/api/v1/auth/login/",
            duration=duration,
            method="POST",
            body=body,
            headers={"Content-Type": "application/json"},
        )


def run(duration: int, pairs: int) -> dict:
    """Both servers stay up; short runs alternate off/on (ABBA) so each pair sees the same machine load."""
    recreate_database(DATABASE)
    runs: dict[str, dict[str, list[dict]]] = {endpoint: {"off": [], "on": []} for endpoint in ENDPOINTS}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as metrics_dir:
            setup_env = mode_env("off", metrics_dir)
            manage(setup_env, "migrate", "--no-input")
            seed_user_with_projects(setup_env, PASSWORD)
            with gunicorn(mode_env("off", metrics_dir)) as off_base, gunicorn(mode_env("on", metrics_dir)) as on_base:
                targets = {"off": Target(off_base), "on": Target(on_base)}
                for endpoint in ENDPOINTS:
                    # Login is bound by Argon2 (~5 requests/s per core): longer runs, fewer pairs.
                    seconds = duration if endpoint == ENDPOINTS[0] else duration * 2
                    for number in range(pairs if endpoint == ENDPOINTS[0] else max(2, pairs // 2)):
                        for mode in ("off", "on") if number % 2 == 0 else ("on", "off"):
                            runs[endpoint][mode].append(targets[mode].run(endpoint, seconds))
    finally:
        drop_database(DATABASE)
    summary = {}
    for endpoint in ENDPOINTS:
        off, on = runs[endpoint]["off"], runs[endpoint]["on"]
        summary[endpoint] = {
            "off": wrk_medians(off),
            "on": wrk_medians(on),
            # Ratios of each adjacent pair, then their median: load that comes and goes hits both sides of a pair.
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
        }
    return {
        "duration_s": duration,
        "pairs": pairs,
        "load_average_at_end": os.getloadavg(),
        "goal": GOAL,
        "results": summary,
        "runs": runs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run (login: twice as long)")
    parser.add_argument("--pairs", type=int, default=12, help="off/on pairs per endpoint (login: half)")
    args = parser.parse_args()
    results = run(args.duration, args.pairs)
    print(f"{'endpoint':28} {'mode':4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cpu ms/req':>10}")
    for endpoint, summary in results["results"].items():
        for mode in ("off", "on"):
            r = summary[mode]
            print(
                f"{endpoint:28} {mode:4} {r['requests_per_second']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['non_2xx']:8.0f} {r['cpu_ms_per_request']:10.2f}"
            )
        ratio, cpu_ratio = summary["ratio_on_off"], summary["cpu_ratio_off_on"]
        verdict = "meets" if ratio >= GOAL else "below"
        print(
            f"{endpoint:28} median pair ratio on/off: req/s {ratio:.3f} ({verdict} the {GOAL} goal), "
            f"CPU {cpu_ratio:.3f}"
        )
    print("load average at the end: {:.2f} {:.2f} {:.2f} (2 cores)".format(*results["load_average_at_end"]))
    print(f"written to {write_result('observability', results)}")


if __name__ == "__main__":
    main()
