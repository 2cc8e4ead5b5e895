"""PostgreSQL backups: pg_dump -Fc of one exported snapshot, pg_restore in one transaction, table stats in SQL."""

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import BinaryIO

import psycopg
import zstandard
from psycopg import sql

from ops.errors import BackupError, one_line

# Session settings that make row::text (hence the checksums) independent of who reads the rows.
_PG_SESSION = (
    "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1"
)
# Order-independent table checksum that streams: the sum over all rows of a 64-bit row hash.
# hash_record_extended hashes each column with its type's hash function (no text conversion: 3x cheaper than
# hashing row::text); tables with a column type that has no hash function (json, xml, point...) fall back to
# hashtextextended(row::text). These are the hash functions hash partitioning relies on, so they stay stable
# across PostgreSQL versions and pg_upgrade. (md5(string_agg(...)) would hold a whole table in one value, capped
# at 1 GB.) The checksum string is prefixed with the method used ("r:" or "t:").
CHECKSUM_METHOD = "pg:sum(hash_record_extended(row,0)) or sum(hashtextextended(row::text,0))"
_PG_TABLE_STATS = "SELECT count(*), 'r:' || coalesce(sum(hash_record_extended(t, 0)), 0)::text FROM {} AS t"
_PG_TABLE_STATS_TEXT = "SELECT count(*), 't:' || coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {} AS t"
_PG_TABLE_COUNT = "SELECT count(*), NULL FROM {} AS t"


RESTORE_LOCK_TIMEOUT_MS = 60_000
# Dumps are pg_dump's custom format uncompressed (-Z0), compressed on the stream by zstd on every core: pg_dump's
# own zlib runs on one core and was most of a backup's time. Level 3 (zstd's default) is about zlib's size.
# Dumps taken before (zlib inside the archive) are told apart by their first bytes and restore as they are.
ZSTD_LEVEL = 3
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


def _decompress_into(path: str, stdin, failure: list[str]) -> None:
    """Stream a zstd dump, decompressed, into pg_restore's stdin (memory flat in the dump's size)."""
    # A broken pipe means pg_restore stopped reading: its exit status and stderr say why.
    with contextlib.suppress(BrokenPipeError), stdin:
        try:
            with open(path, "rb") as archive, zstandard.ZstdDecompressor().stream_reader(archive) as plain:
                shutil.copyfileobj(plain, stdin, _CHUNK)
        except zstandard.ZstdError as exc:  # a damaged stream: pg_restore then fails on its truncated input
            failure.append(one_line(str(exc)))


def _one(row: tuple | None) -> tuple:
    """The row of a query that always returns one."""
    if row is None:
        raise BackupError("PostgreSQL returned no row where one was expected")
    return row


class PostgresEngine:
    """pg_dump -Fc of one exported snapshot, pg_restore in one transaction, stats with SQL."""

    name = "postgresql"

    def __init__(self, db: dict):
        self.db = db
        self.database = db["NAME"]
        for tool in ("pg_dump", "pg_restore"):
            if shutil.which(tool) is None:
                raise BackupError(f"{tool} is not installed or not on PATH")

    def _params(self, dbname: str | None = None) -> dict:
        params = {
            "dbname": dbname or self.database,
            "host": self.db.get("HOST") or None,
            "port": str(self.db["PORT"]) if self.db.get("PORT") else None,
            "user": self.db.get("USER") or None,
            "password": self.db.get("PASSWORD") or None,
            "connect_timeout": 10,
        }
        sslmode = (self.db.get("OPTIONS") or {}).get("sslmode")
        if sslmode:
            params["sslmode"] = sslmode
        return {k: v for k, v in params.items() if v is not None}

    def _env(self, dbname: str | None = None) -> dict:
        p = self._params(dbname)
        env = dict(os.environ)  # pg_dump and pg_restore get this process' environment, plus the PG* below
        mapping = {"dbname": "PGDATABASE", "host": "PGHOST", "port": "PGPORT", "user": "PGUSER"}
        mapping |= {"password": "PGPASSWORD", "sslmode": "PGSSLMODE", "connect_timeout": "PGCONNECT_TIMEOUT"}
        for key, var in mapping.items():
            if key in p:
                env[var] = str(p[key])
        return env

    def connect(self, dbname: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
        try:
            conn = psycopg.connect(**self._params(dbname), autocommit=autocommit)
        except psycopg.Error as exc:
            raise BackupError(
                f"cannot connect to PostgreSQL database {dbname or self.database}: {one_line(str(exc))}"
            ) from exc
        return conn

    # --- facts for the manifest -------------------------------------------------------------------------------
    @staticmethod
    def _facts(conn: psycopg.Connection, *, checksums: bool = True) -> dict:
        with conn.cursor() as cur:
            for statement in _PG_SESSION.split("; "):
                cur.execute(statement)
            cur.execute("SHOW server_version")
            version = _one(cur.fetchone())[0]
            cur.execute(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            )
            tables = {}
            for schema, table in cur.fetchall():
                ident = sql.Identifier(schema, table)
                if not checksums:
                    cur.execute(sql.SQL(_PG_TABLE_COUNT).format(ident))
                else:
                    try:
                        with conn.transaction():  # a savepoint: the snapshot survives the fallback
                            cur.execute(sql.SQL(_PG_TABLE_STATS).format(ident))
                    except psycopg.errors.UndefinedFunction:
                        cur.execute(sql.SQL(_PG_TABLE_STATS_TEXT).format(ident))
                rows, checksum = _one(cur.fetchone())
                name = table if schema == "public" else f"{schema}.{table}"
                tables[name] = {"rows": rows, "checksum": checksum}
            migrations = []
            if "django_migrations" in tables:
                cur.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
                migrations = [f"{app}.{name}" for app, name in cur.fetchall()]
        return {
            "engine": "postgresql",
            "server_version": version,
            "checksum_method": CHECKSUM_METHOD if checksums else None,
            "tables": tables,
            "migrations": migrations,
        }

    def facts(self, dbname: str | None = None, *, checksums: bool = True) -> dict:
        """Row counts (and, unless checksums=False, checksums) of every table, migrations, server version."""
        with self.connect(dbname, autocommit=True) as conn:
            return self._facts(conn, checksums=checksums)

    # --- backup -----------------------------------------------------------------------------------------------
    def dump(self, sink: Callable[[BinaryIO], None]) -> dict:
        """Run pg_dump -Fc on an exported snapshot, feed its stdout to sink, return the snapshot's facts.

        A REPEATABLE READ transaction exports its snapshot; pg_dump --snapshot dumps exactly that state, and the
        row counts and checksums are computed inside the same transaction while pg_dump runs, so the manifest
        describes the dump even while the application keeps writing.
        """
        conn = self.connect()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            snapshot = _one(conn.execute("SELECT pg_export_snapshot()").fetchone())[0]
            facts: dict = {}
            failure: list[BaseException] = []

            def compute() -> None:
                try:
                    facts.update(self._facts(conn))
                except BaseException as exc:  # reported by the main thread
                    failure.append(exc)

            with tempfile.TemporaryFile() as errors:
                proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    ["pg_dump", "--format=custom", "--compress=0", f"--snapshot={snapshot}", "--no-password"],  # noqa: S607
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=self._env(),
                )
                worker = threading.Thread(target=compute, name="backup-facts", daemon=True)
                worker.start()
                compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
                try:
                    stdout: BinaryIO = proc.stdout  # type: ignore[assignment]  # stdout=PIPE, so never None
                    with compressor.stream_reader(stdout, read_size=_CHUNK, closefd=False) as compressed:
                        sink(compressed)
                except BaseException:
                    proc.kill()
                    raise
                finally:
                    proc.stdout.close()  # type: ignore[union-attr]
                    returncode = proc.wait()
                    worker.join()
                if returncode != 0:
                    errors.seek(0)
                    raise BackupError(f"pg_dump failed: {one_line(errors.read().decode(errors='replace'))}")
            if failure:
                raise BackupError(f"reading table statistics failed: {one_line(str(failure[0]))}") from failure[0]
            conn.rollback()
            return facts | {"compression": "zstd"}
        finally:
            conn.close()

    # --- restore ----------------------------------------------------------------------------------------------
    def restore(self, path: str, *, dbname: str | None = None) -> None:
        """pg_restore in one transaction: on any error nothing is changed.

        If another session (the application, still running) holds a lock that the restore waits for longer than
        RESTORE_LOCK_TIMEOUT_MS, the restore is cancelled and rolled back instead of waiting forever while
        queueing everyone else behind its DROP. (PGOPTIONS lock_timeout would not do: the archive itself starts
        with SET lock_timeout = 0.)
        """
        target = dbname or self.database
        app_name = f"aiassistant-restore-{uuid.uuid4().hex[:12]}"
        env = self._env(target) | {"PGAPPNAME": app_name}
        with open(path, "rb") as archive:
            compressed = archive.read(len(ZSTD_MAGIC)) == ZSTD_MAGIC
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [  # noqa: S607
                    "pg_restore",
                    "--single-transaction",
                    "--exit-on-error",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--no-password",
                    f"--dbname={target}",
                    *([] if compressed else [path]),  # a zstd dump arrives decompressed on stdin
                ],
                stdin=subprocess.PIPE if compressed else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=env,
            )
            feeder, damaged = None, list[str]()
            if compressed:
                feeder = threading.Thread(target=_decompress_into, args=(path, proc.stdin, damaged), daemon=True)
                feeder.start()
            cancelled = self._watch_locks(proc, app_name)
            if feeder is not None:
                feeder.join()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
            if damaged:
                stderr = f"the dump's zstd stream is damaged ({damaged[0]}); {stderr}"
        if cancelled:
            raise BackupError(
                f"pg_restore waited over {RESTORE_LOCK_TIMEOUT_MS / 1000:g} s for a lock held by another session "
                "(lock timeout; is the application still running?), database unchanged"
            )
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed, database unchanged: {one_line(stderr)}")

    def _watch_locks(self, proc: subprocess.Popen, app_name: str) -> bool:
        """Wait for pg_restore; cancel its statement if it waits on one lock for too long. True if cancelled."""
        waiting_since = None
        with self.connect(autocommit=True) as conn:
            while proc.poll() is None:
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                row = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                    [app_name],
                ).fetchone()
                if row is None:
                    waiting_since = None
                    continue
                waiting_since = waiting_since or time.monotonic()
                if (time.monotonic() - waiting_since) * 1000 >= RESTORE_LOCK_TIMEOUT_MS:
                    conn.execute("SELECT pg_cancel_backend(%s)", [row[0]])
                    proc.wait()
                    return True
        return False

    def database_exists(self, name: str) -> bool:
        with self.connect(autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None

    def create_database(self, name: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def scratch_name(self) -> str:
        return f"{self.database[:40]}_verify_{uuid.uuid4().hex[:12]}"
