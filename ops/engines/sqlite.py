"""SQLite backups: the online backup API copies a consistent snapshot; restores copy it back in one transaction."""

import hashlib
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from typing import BinaryIO

from ops.errors import BackupError, one_line

SQLITE_CHECKSUM_METHOD = "sqlite:sum(md5(repr(row))[:16])"


class SqliteEngine:
    """SQLite: the online backup API copies a consistent snapshot into a temporary file, which is uploaded."""

    name = "sqlite"

    def __init__(self, db: dict):
        self.db = db
        self.database = str(db["NAME"])

    def _facts_of(self, path: str, *, checksums: bool = True) -> dict:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {}
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            for name in names:
                quoted = '"' + name.replace('"', '""') + '"'
                count, total = 0, 0
                # The name comes from sqlite_master and is quoted as an identifier: no input reaches it.
                for row in conn.execute(f"SELECT * FROM {quoted}"):  # noqa: S608  # nosec B608
                    count += 1
                    if checksums:
                        total += int(hashlib.md5(repr(row).encode(), usedforsecurity=False).hexdigest()[:16], 16)
                tables[name] = {"rows": count, "checksum": str(total) if checksums else None}
            migrations = []
            if "django_migrations" in tables:
                migrations = [
                    f"{app}.{name}"
                    for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY 1, 2")
                ]
            version = conn.execute("SELECT sqlite_version()").fetchone()[0]
        finally:
            conn.close()
        return {
            "engine": "sqlite",
            "server_version": version,
            "checksum_method": SQLITE_CHECKSUM_METHOD if checksums else None,
            "tables": tables,
            "migrations": migrations,
        }

    def facts(self, dbname: str | None = None, *, checksums: bool = True) -> dict:
        return self._facts_of(dbname or self.database, checksums=checksums)

    def dump(self, sink: Callable[[BinaryIO], None]) -> dict:
        if not os.path.exists(self.database):
            raise BackupError(f"SQLite database {self.database} does not exist")
        fd, tmp = tempfile.mkstemp(prefix="aiassistant-backup-", suffix=".sqlite3")
        os.close(fd)
        try:
            src = sqlite3.connect(self.database)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            facts = self._facts_of(tmp)
            with open(tmp, "rb") as fh:
                sink(fh)
            return facts
        finally:
            os.unlink(tmp)

    def restore(self, path: str, *, dbname: str | None = None) -> None:
        """Copy the downloaded file into the target with the backup API: one transaction on the target."""
        target = dbname or self.database
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = src.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the SQLite backup is damaged ({one_line(check)}), database unchanged")
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"SQLite restore failed, database unchanged: {one_line(str(exc))}") from exc
        finally:
            src.close()

    def database_exists(self, name: str) -> bool:
        return os.path.exists(name)

    def create_database(self, name: str) -> None:
        sqlite3.connect(name).close()

    def drop_database(self, name: str) -> None:
        # With the WAL journal (the restored file keeps the mode) SQLite leaves -wal and -shm files beside it.
        for path in (name, f"{name}-wal", f"{name}-shm", f"{name}-journal"):
            if os.path.exists(path):
                os.unlink(path)

    def scratch_name(self) -> str:
        return os.path.join(tempfile.gettempdir(), f"aiassistant-verify-{uuid.uuid4().hex[:12]}.sqlite3")
