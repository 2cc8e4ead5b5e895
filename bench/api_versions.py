"""v2 list next to v1 list: GET /api/v2/projects/ and GET /api/v1/projects/ on one gunicorn, in one run.

The product owner's goal: v2 (cursor pagination, no COUNT query) is at least as fast as v1 (page numbers, one
COUNT(*)). One user with 20 projects, a page of 20 on both (v2's page size defaults to the same PAGE_SIZE).
gunicorn with production settings (2 workers, as in baseline.py) on PostgreSQL with Redis; wrk on loopback
alternates short runs between the two endpoints (v1-v2, v2-v1, ...), so each pair sees the same machine load,
and the figure is the median of the per-pair ratios. It also reports the gunicorn processes' CPU time per
request, and, in this process (Django's test client against the same database and settings), the SQL queries
of one request to each endpoint, the median time of each request without HTTP, and of the COUNT statement alone.
Usage: .venv/bin/python bench/api_versions.py [--duration 5] [--pairs 8]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import urllib.request

from harness import (
    ROOT,
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
DATABASE = "aiassistant_bench_versions"
ENDPOINTS = {"v1": "/api/v1/projects/", "v2": "/api/v2/projects/"}
PAGE = 20
GOAL = 1.0  # v2 req/s / v1 req/s


def _items(version: str, body: dict) -> list:
    return body["results"] if version == "v1" else body["data"]


def in_process(env: dict, token: str, rounds: int = 200) -> dict:
    """In this process (Django's test client, same settings and database): the SQL statements of one request to
    each endpoint, the median wall time of a request to each (alternating, no HTTP server in between), and the
    median time of v1's COUNT statement run alone."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    found: dict = {"queries": {}, "request_ms": {}}
    for version, path in ENDPOINTS.items():
        client.get(path)  # the first request of a process does one-off work that is not the endpoint's
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200 or len(_items(version, response.json())) != PAGE:
            raise SystemExit(f"{path} in process: {response.status_code} {response.content[:300]!r}")
        statements = [query["sql"] for query in captured.captured_queries]
        found["queries"][version] = {
            "queries": len(statements),
            "count_queries": sum("COUNT(" in sql.upper() for sql in statements),
            "statements": statements,
        }
    timings: dict[str, list[float]] = {version: [] for version in ENDPOINTS}
    for number in range(rounds):
        for version in ENDPOINTS if number % 2 == 0 else reversed(ENDPOINTS):
            begin = time.perf_counter()
            client.get(ENDPOINTS[version])
            timings[version].append((time.perf_counter() - begin) * 1000)
    found["request_ms"] = {version: round(statistics.median(values), 3) for version, values in timings.items()}
    count_sql = next(sql for sql in found["queries"]["v1"]["statements"] if "COUNT(" in sql.upper())
    with connection.cursor() as cursor:
        durations = []
        for _ in range(rounds):
            begin = time.perf_counter()
            cursor.execute(count_sql)
            cursor.fetchall()
            durations.append((time.perf_counter() - begin) * 1000)
    found["count_statement_ms"] = round(statistics.median(durations), 3)
    connection.close()
    connection.close_pool()  # Django's pool (production settings): no idle connection left on the bench database
    return found


def _check_pages(base: str, token: str) -> None:
    """Both endpoints answer 200 with a full page over HTTP before anything is timed."""
    for version, path in ENDPOINTS.items():
        request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            items = _items(version, json.load(response))
        if len(items) != PAGE:
            raise SystemExit(f"{path} returned {len(items)} projects, expected {PAGE}")


def run(duration: int, pairs: int) -> dict:
    started = datetime.datetime.now(tz=datetime.UTC)
    load_at_start = os.getloadavg()
    recreate_database(DATABASE)
    env = base_env(DATABASE)
    runs: dict[str, list[dict]] = {version: [] for version in ENDPOINTS}
    try:
        manage(env, "migrate", "--no-input")
        seed_user_with_projects(env, PASSWORD)
        with gunicorn(env, workers=2) as base:
            token = login(base, "bench@example.com", PASSWORD)
            _check_pages(base, token)
            measured = in_process(env, token)
            processes = gunicorn_processes(base)
            headers = {"Authorization": f"Bearer {token}"}
            for path in ENDPOINTS.values():  # warm-up, not counted
                timed_wrk(base, processes, f"{base}{path}", duration=2, headers=headers)
            for number in range(pairs):
                order = ("v1", "v2") if number % 2 == 0 else ("v2", "v1")
                for version in order:
                    url = f"{base}{ENDPOINTS[version]}"
                    runs[version].append(timed_wrk(base, processes, url, duration=duration, headers=headers))
    finally:
        drop_database(DATABASE)
    per_pair = [
        {
            "v1_rps": v1["requests_per_second"],
            "v2_rps": v2["requests_per_second"],
            "ratio_v2_v1": round(v2["requests_per_second"] / v1["requests_per_second"], 3),
            "v1_cpu_ms": round(v1["cpu_ms_per_request"], 3),
            "v2_cpu_ms": round(v2["cpu_ms_per_request"], 3),
            "cpu_ratio_v2_v1": round(v2["cpu_ms_per_request"] / v1["cpu_ms_per_request"], 3),
        }
        for v1, v2 in zip(runs["v1"], runs["v2"], strict=True)
    ]
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "duration_s": duration,
        "pairs": pairs,
        "goal_ratio_v2_v1": GOAL,
        "medians": {version: wrk_medians(results) for version, results in runs.items()},
        "median_ratio_v2_v1": round(statistics.median(pair["ratio_v2_v1"] for pair in per_pair), 3),
        "median_cpu_ratio_v2_v1": round(statistics.median(pair["cpu_ratio_v2_v1"] for pair in per_pair), 3),
        "per_pair": per_pair,
        "queries": measured["queries"],
        "in_process_request_ms": measured["request_ms"],
        "in_process_count_statement_ms": measured["count_statement_ms"],
        "runs": runs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--pairs", type=int, default=8, help="v1/v2 pairs")
    args = parser.parse_args()
    results = run(args.duration, args.pairs)
    print(
        f"{'pair':>4} {'v1 req/s':>9} {'v2 req/s':>9} {'v2/v1':>6} {'v1 cpu ms':>9} {'v2 cpu ms':>9} {'cpu v2/v1':>9}"
    )
    for number, pair in enumerate(results["per_pair"], start=1):
        print(
            f"{number:4d} {pair['v1_rps']:9.1f} {pair['v2_rps']:9.1f} {pair['ratio_v2_v1']:6.3f} "
            f"{pair['v1_cpu_ms']:9.2f} {pair['v2_cpu_ms']:9.2f} {pair['cpu_ratio_v2_v1']:9.3f}"
        )
    print(f"{'endpoint':22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cpu ms/req':>10} {'SQL':>4}")
    for version, path in ENDPOINTS.items():
        r, q = results["medians"][version], results["queries"][version]
        print(
            f"GET {path:18} {r['requests_per_second']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['non_2xx']:8.0f} {r['cpu_ms_per_request']:10.2f} {q['queries']:4d} ({q['count_queries']} COUNT)"
        )
    print(
        "in process (test client, no HTTP): median ms per request v1 {v1:.2f}, v2 {v2:.2f}; "
        "v1's COUNT statement alone {count:.3f} ms".format(
            **results["in_process_request_ms"], count=results["in_process_count_statement_ms"]
        )
    )
    ratio = results["median_ratio_v2_v1"]
    verdict = "meets" if ratio >= GOAL else "below"
    print(
        f"median pair ratio v2/v1: req/s {ratio:.3f} ({verdict} the goal {GOAL}), "
        f"CPU per request {results['median_cpu_ratio_v2_v1']:.3f}"
    )
    print(
        "load average: {:.2f} {:.2f} {:.2f} at the start, {:.2f} {:.2f} {:.2f} at the end ({} cores)".format(
            *results["load_average_at_start"], *results["load_average_at_end"], results["machine"]["cpus"]
        )
    )
    print(f"written to {write_result('api_versions', results)}")


if __name__ == "__main__":
    main()
