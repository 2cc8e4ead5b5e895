"""Helpers shared by tests that start real processes: free ports, the test database's URL, polling."""

import socket
import time
from urllib.parse import quote

import pytest
from django.db import connection


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(**overrides) -> str:
    """The test database pytest-django created (test_<name>) as a URL, for processes the tests start."""
    db = connection.settings_dict
    parts = {
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or "",
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "name": db["NAME"],
    }
    parts.update(overrides)
    auth = quote(str(parts["user"]), safe="")
    if parts["password"]:
        auth += f":{quote(str(parts['password']), safe='')}"
    return f"postgres://{auth}@{parts['host']}:{parts['port']}/{parts['name']}"


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    """Poll until predicate() returns something truthy and return it; OSError (nothing listening yet) counts
    as not yet. Fails the test naming what was awaited when the timeout passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError as exc:
            last_error, value = exc, None
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {message} (last error: {last_error})")


def columns_containing(text: str) -> list[str]:
    """Every "table.column" of the database where some row holds `text` (any case), whatever the column's type
    (text, varchar, json, jsonb... each cast to text): what an erasure test asserts is empty."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        )
        columns = cursor.fetchall()
        quote = connection.ops.quote_name
        for table, column in columns:
            cursor.execute(f"SELECT 1 FROM {quote(table)} WHERE {quote(column)}::text ILIKE %s LIMIT 1", [pattern])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found
