"""Database engines for backups: PostgreSQL through pg_dump/pg_restore (postgres.py), SQLite through its online
backup API (sqlite.py).

Both produce the same facts for the manifest from the very snapshot that is dumped: per-table row counts and
checksums, the Django migration state and the server version.
"""

from typing import TYPE_CHECKING

from common.errors import ApplicationError

if TYPE_CHECKING:
    from ops.engines.postgres import PostgresEngine
    from ops.engines.sqlite import SqliteEngine


class BackupError(ApplicationError):
    """A backup, restore or verification failed; the message is one line meant for an operator."""

    status = 500
    code = "backup_failed"
    default_message = "The backup operation failed."


def one_line(text: str, limit: int = 300) -> str:
    """The last meaningful line of a tool's stderr, for one-line error messages."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "no error output")[:limit]


def engine_for(db: dict) -> "PostgresEngine | SqliteEngine":
    """The engine for a Django DATABASES entry."""
    # Imported here: both engine modules import BackupError and one_line from this package.
    from ops.engines.postgres import PostgresEngine
    from ops.engines.sqlite import SqliteEngine

    vendor = db["ENGINE"].rsplit(".", 1)[-1]
    if vendor == "postgresql":
        return PostgresEngine(db)
    if vendor == "sqlite3":
        return SqliteEngine(db)
    raise BackupError(f"backups support PostgreSQL and SQLite, not {db['ENGINE']}")
