"""Database engines for backups: PostgreSQL through pg_dump/pg_restore (postgres.py), SQLite through its online
backup API (sqlite.py).

Both produce the same facts for the manifest from the very snapshot that is dumped: per-table row counts and
checksums, the Django migration state and the server version.
"""

from ops.engines.postgres import PostgresEngine
from ops.engines.sqlite import SqliteEngine
from ops.errors import BackupError, one_line

__all__ = ["BackupError", "PostgresEngine", "SqliteEngine", "engine_for", "one_line"]


def engine_for(db: dict) -> PostgresEngine | SqliteEngine:
    """The engine for a Django DATABASES entry."""
    vendor = db["ENGINE"].rsplit(".", 1)[-1]
    if vendor == "postgresql":
        return PostgresEngine(db)
    if vendor == "sqlite3":
        return SqliteEngine(db)
    raise BackupError(f"backups support PostgreSQL and SQLite, not {db['ENGINE']}")
