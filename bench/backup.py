"""Backup benchmark: `manage.py backup`/`restore` next to raw `pg_dump -Fc`/`pg_restore`, and the backup's memory.

Usage (PostgreSQL 15 on 127.0.0.1:5432, user postgres, pg_dump/pg_restore on PATH):

    .venv/bin/python bench/backup.py [--small-mb 250] [--large-mb 1100] [--s3]

It creates the database aiassistant_bench, migrates it, fills a wide table with generate_series to the small
size, measures `manage.py backup`'s peak memory, grows the table to the large size (at least 1 GB), then times
in one run: raw pg_dump -Fc to a local file, `manage.py backup` (local folder storage), raw pg_restore of that
file into an empty database, `manage.py restore --no-safety-backup --target-database` into another empty
database, and the floor under both: `pg_dump -Z0` to a file and `pg_restore` of it (what `manage.py backup`
and `restore` run, on the uncompressed stream, so neither can be faster); with --s3 also `manage.py backup`
into moto's standalone S3 server (a stand-in for S3 on localhost, not a measure of real S3 throughput). Every
database and file it made is dropped at the end. Results are printed and written to bench/results/backup.json.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB = "aiassistant_bench"
RESTORE_RAW = "aiassistant_bench_raw_restore"
RESTORE_APP = "aiassistant_bench_app_restore"
RESTORE_FLOOR = "aiassistant_bench_floor_restore"
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
PG_ENV = {**os.environ, "PGHOST": PG["host"], "PGPORT": PG["port"], "PGUSER": PG["user"]}
RESTORE_FLAGS = ["--single-transaction", "--exit-on-error", "--clean", "--if-exists", "--no-owner", "--no-privileges"]


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", "-d", db, "-qAtc", sql], env=PG_ENV, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def db_size(db: str) -> int:
    return int(psql(f"SELECT pg_database_size('{db}')"))


def run(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command; return wall seconds and the peak RSS (VmHWM, polled) of the process itself."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env or PG_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def poll():
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) * 1024)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return {"seconds": seconds, "peak_rss_bytes": peak[0], "stdout": out.strip()}


def grow_to(target_bytes: int) -> None:
    """Insert batches of ~300-byte rows into bench_wide until the database reaches target_bytes."""
    psql(
        "CREATE TABLE IF NOT EXISTS bench_wide (id bigserial PRIMARY KEY, created timestamptz NOT NULL, "
        "n integer NOT NULL, a text, b text, c text, d text, e text, f text, g text, h text)",
        DB,
    )
    batch = 500_000
    while db_size(DB) < target_bytes:
        psql(
            "INSERT INTO bench_wide (created, n, a, b, c, d, e, f, g, h) SELECT now() - i * interval '1 second', i, "
            "md5(i::text), md5((i+1)::text), md5((i+2)::text), md5((i+3)::text), md5((i+4)::text), "
            f"md5((i+5)::text), md5((i+6)::text), md5((i+7)::text) FROM generate_series(1, {batch}) AS i",
            DB,
        )
    psql("VACUUM ANALYZE bench_wide", DB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-mb", type=int, default=250)
    parser.add_argument("--large-mb", type=int, default=1100)
    parser.add_argument("--s3", action="store_true", help="also back up into moto's standalone S3 server")
    parser.add_argument("--repeat", type=int, default=3, help="timings per operation (the best one is reported)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aiassistant-bench-"))
    app_env = {
        **PG_ENV,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB}",
        "DB_POOL": "false",
        "BACKUP_STORAGE": "local",
        "BACKUP_LOCAL_DIR": str(work / "backups"),
        "ENVIRONMENT": "bench",
        "LOG_LEVEL": "WARNING",
    }
    manage = [PY, str(ROOT / "manage.py")]
    results: dict = {"command": "python bench/backup.py " + " ".join(sys.argv[1:]), "cpus": os.cpu_count()}
    moto = None
    try:
        for name in (DB, RESTORE_RAW, RESTORE_APP, RESTORE_FLOOR):
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(f"CREATE DATABASE {DB}")
        run([*manage, "migrate", "--no-input", "-v0"], app_env)

        # Memory at two sizes: the same backup path, a database about 4x bigger.
        grow_to(args.small_mb * 1024 * 1024)
        small = {"db_bytes": db_size(DB), **run([*manage, "backup"], app_env)}
        grow_to(args.large_mb * 1024 * 1024)
        large_db = db_size(DB)

        raw_file, floor_file = work / "raw.dump", work / "floor.dump"
        samples: dict[str, list] = {
            "raw_dump": [],
            "app_backup": [],
            "floor_dump": [],
            "raw_restore": [],
            "app_restore": [],
            "floor_restore": [],
        }

        # Other processes share these CPUs: alternate which of raw and app goes first, CHECKPOINT before every
        # timed run (so neither pays for the other's writes), and keep the best of each.
        def timed(kind: str, cmd: list[str], env: dict | None = None) -> None:
            psql("CHECKPOINT")
            samples[kind].append(run(cmd, env))

        # The floor: what `manage.py backup` and `restore` cannot go below, since they run these very programs on
        # an uncompressed dump (`pg_dump -Z0` to a file: no compression at all; `pg_restore` of that file).
        raw_dump_cmd = ["pg_dump", "--format=custom", f"--file={raw_file}", DB]
        floor_dump_cmd = ["pg_dump", "--format=custom", "--compress=0", f"--file={floor_file}", DB]
        for i in range(args.repeat):
            trio = [
                ("raw_dump", raw_dump_cmd, None),
                ("app_backup", [*manage, "backup"], app_env),
                ("floor_dump", floor_dump_cmd, None),
            ]
            for kind, cmd, env in trio[i % 3 :] + trio[: i % 3]:  # each goes first in turn
                timed(kind, cmd, env)
        for i in range(args.repeat):
            for name in (RESTORE_RAW, RESTORE_APP, RESTORE_FLOOR):  # every target exists and is empty before each
                psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                psql(f"CREATE DATABASE {name}")
            app_cmd = [*manage, "restore", "latest", "--yes", "--no-safety-backup", "--target-database", RESTORE_APP]
            trio = [
                ("raw_restore", ["pg_restore", *RESTORE_FLAGS, f"--dbname={RESTORE_RAW}", str(raw_file)], None),
                ("app_restore", app_cmd, app_env),
                ("floor_restore", ["pg_restore", *RESTORE_FLAGS, f"--dbname={RESTORE_FLOOR}", str(floor_file)], None),
            ]
            for kind, cmd, env in trio[i % 3 :] + trio[: i % 3]:
                timed(kind, cmd, env)
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in samples.items()}
        raw_dump, app_backup, raw_restore, app_restore = (
            best["raw_dump"],
            best["app_backup"],
            best["raw_restore"],
            best["app_restore"],
        )
        floor_dump, floor_restore = best["floor_dump"], best["floor_restore"]
        # Inside the process (without Python and Django start-up, ~1 s): the record's duration, the restore's own.
        in_process_backup = min(
            float(x)
            for x in psql(
                "SELECT duration_seconds FROM ops_backuprecord WHERE kind = 'manual' "
                f"ORDER BY started_at OFFSET 1 LIMIT {args.repeat}",
                DB,
            ).split()
        )
        in_process_restore = min(
            float(re.search(r" in ([0-9.]+) s", r["stdout"]).group(1)) for r in samples["app_restore"]
        )
        app_restore_with_safety = run(
            [*manage, "restore", "latest", "--yes", "--target-database", RESTORE_APP], app_env
        )
        verify = run([*manage, "backup_verify", "latest"], app_env)
        restore_seconds = float(
            psql(
                "SELECT restore_seconds FROM ops_backuprecord WHERE verified_at IS NOT NULL "
                "ORDER BY verified_at DESC LIMIT 1",
                DB,
            )
        )
        # The size of the newest manual backup (pg_dump -Z0 through zstd: issue 13, goal 5, at most 1.1x raw).
        backup_bytes = int(
            psql("SELECT size_bytes FROM ops_backuprecord WHERE kind = 'manual' ORDER BY started_at DESC LIMIT 1", DB)
        )
        results |= {
            "small": {"db_bytes": small["db_bytes"], "backup_peak_rss_bytes": small["peak_rss_bytes"]},
            "large": {
                "db_bytes": large_db,
                "dump_bytes": raw_file.stat().st_size,
                "backup_bytes": backup_bytes,
                "size_ratio": backup_bytes / raw_file.stat().st_size,
                "raw_pg_dump_seconds": raw_dump["seconds"],
                "manage_backup_seconds": app_backup["seconds"],
                "backup_ratio": app_backup["seconds"] / raw_dump["seconds"],
                "raw_pg_restore_seconds": raw_restore["seconds"],
                "floor_pg_dump_z0_seconds": floor_dump["seconds"],
                "floor_pg_dump_z0_ratio": floor_dump["seconds"] / raw_dump["seconds"],
                "floor_pg_restore_z0_seconds": floor_restore["seconds"],
                "floor_pg_restore_z0_ratio": floor_restore["seconds"] / raw_restore["seconds"],
                "floor_dump_bytes": floor_file.stat().st_size,
                "manage_restore_seconds": app_restore["seconds"],
                "restore_ratio": app_restore["seconds"] / raw_restore["seconds"],
                "backup_peak_rss_bytes": app_backup["peak_rss_bytes"],
                "pg_dump_peak_rss_bytes": raw_dump["peak_rss_bytes"],
                "backup_in_process_seconds": in_process_backup,
                "restore_in_process_seconds": in_process_restore,
                "restore_phases_of_best_run": min(samples["app_restore"], key=lambda r: r["seconds"])["stdout"]
                .split("(", 1)[-1]
                .split(")", 1)[0],
                "verify_drill_seconds": verify["seconds"],
                "manage_restore_with_safety_backup_seconds": app_restore_with_safety["seconds"],
                "samples_seconds": {k: [round(r["seconds"], 2) for r in v] for k, v in samples.items()},
                "verify_recorded_restore_seconds": restore_seconds,
            },
        }
        if args.s3:
            from moto.server import ThreadedMotoServer

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            moto.start()
            s3_env = {
                **app_env,
                "BACKUP_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "bench",
                "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_S3_REGION_NAME": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
            }
            import boto3

            boto3.client(
                "s3",
                endpoint_url=s3_env["AWS_S3_ENDPOINT_URL"],
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            ).create_bucket(Bucket="bench")
            s3_backup = run([*manage, "backup"], s3_env)
            results["large"] |= {
                "manage_backup_s3_moto_seconds": s3_backup["seconds"],
                "backup_s3_moto_peak_rss_bytes": s3_backup["peak_rss_bytes"],
            }
    finally:
        if moto is not None:
            moto.stop()
        for name in (DB, RESTORE_RAW, RESTORE_APP, RESTORE_FLOOR):
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "backup.json").write_text(json.dumps(results, indent=2))
    mib = 1024 * 1024
    lg = results["large"]
    print(
        f"database {lg['db_bytes'] / mib:.0f} MiB, raw dump {lg['dump_bytes'] / mib:.0f} MiB, backup "
        f"{lg['backup_bytes'] / mib:.0f} MiB (size ratio {lg['size_ratio']:.2f}), {results['cpus']} CPUs"
    )
    print(
        f"backup : raw pg_dump -Fc {lg['raw_pg_dump_seconds']:.1f} s, "
        f"manage.py backup {lg['manage_backup_seconds']:.1f} s, ratio {lg['backup_ratio']:.2f}"
    )
    print(
        f"restore: raw pg_restore {lg['raw_pg_restore_seconds']:.1f} s, "
        f"manage.py restore {lg['manage_restore_seconds']:.1f} s, ratio {lg['restore_ratio']:.2f}"
    )
    print(
        f"floor  : pg_dump -Z0 to a file {lg['floor_pg_dump_z0_seconds']:.1f} s "
        f"(ratio {lg['floor_pg_dump_z0_ratio']:.2f} of raw pg_dump; {lg['floor_dump_bytes'] / mib:.0f} MiB), "
        f"pg_restore of it {lg['floor_pg_restore_z0_seconds']:.1f} s "
        f"(ratio {lg['floor_pg_restore_z0_ratio']:.2f} of raw pg_restore)"
    )
    print(
        f"backup peak RSS: {results['small']['backup_peak_rss_bytes'] / mib:.0f} MiB at "
        f"{results['small']['db_bytes'] / mib:.0f} MiB, {lg['backup_peak_rss_bytes'] / mib:.0f} MiB at "
        f"{lg['db_bytes'] / mib:.0f} MiB"
    )
    print(
        f"inside the process (no interpreter/Django start-up): backup {lg['backup_in_process_seconds']:.1f} s "
        f"(ratio {lg['backup_in_process_seconds'] / lg['raw_pg_dump_seconds']:.2f}), restore "
        f"{lg['restore_in_process_seconds']:.1f} s "
        f"(ratio {lg['restore_in_process_seconds'] / lg['raw_pg_restore_seconds']:.2f})"
    )
    print(f"manage.py restore phases (best run): {lg['restore_phases_of_best_run']}")
    print(f"restore with its safety backup first: {lg['manage_restore_with_safety_backup_seconds']:.1f} s")
    print(
        f"verify drill: {lg['verify_drill_seconds']:.1f} s wall, "
        f"recorded restore time {lg['verify_recorded_restore_seconds']:.1f} s"
    )
    if "manage_backup_s3_moto_seconds" in lg:
        print(
            f"backup to moto S3: {lg['manage_backup_s3_moto_seconds']:.1f} s, "
            f"peak RSS {lg['backup_s3_moto_peak_rss_bytes'] / mib:.0f} MiB"
        )


if __name__ == "__main__":
    main()
