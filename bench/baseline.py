"""Foundation baseline: requests/s and p50/p99 for GET /api/v1/projects/ and POST /api/v1/auth/login/.

gunicorn (production settings, 2 workers) on PostgreSQL with Redis; wrk on loopback. Later benchmarks
compare against these figures. Usage: .venv/bin/python bench/baseline.py [--duration 10]
"""

import argparse
import json

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


def run(duration: int, env_extra: dict | None = None, database: str = "aiassistant_bench_api") -> dict:
    recreate_database(database)
    env = base_env(database, **(env_extra or {}))
    try:
        manage(env, "migrate", "--no-input")
        seed_user_with_projects(env, PASSWORD)
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
    finally:
        drop_database(database)
    return {"GET /api/v1/projects/": projects, "POST /api/v1/auth/login/": logins}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    results = run(args.duration)
    print(f"{'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for endpoint, r in results.items():
        print(f"{endpoint:28} {r['requests_per_second']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['non_2xx']:8d}")
    print(f"written to {write_result('baseline', results)}")


if __name__ == "__main__":
    main()
