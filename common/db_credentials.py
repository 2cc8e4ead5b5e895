"""Dynamic PostgreSQL credentials from Vault's database secrets engine (`VAULT_DB_ROLE`).

At start the settings take a user and password from `database/creds/<role>`. Vault creates that role with
`VALID UNTIL` its lease's end, and a renewed lease does not move that date (hashicorp/vault#10026): so instead of
renewing, each process takes new credentials every third of the TTL, and the connection pool replaces its
connections after at most a third of the TTL. New connections use the new credentials; connections already open
(and the requests on them) go on, since PostgreSQL checks VALID UNTIL only when a session starts.

The rotation runs in a daemon thread of each process that opens a database connection (started on Django's
`connection_created`, so a forked worker starts its own); a failure is a log line and a metric, and the process
keeps the credentials it has until they expire.
"""

import logging
import os
import threading
import time
from typing import Any

from prometheus_client import Counter

from common import redaction, vault

logger = logging.getLogger("aiassistant.vault")
ROTATIONS = Counter(
    "aiassistant_vault_db_credential_rotations_total", "Dynamic database credential rotations.", ["result"]
)

_state: dict[str, Any] = {}  # role, mount, database settings dict, ttl, issued_at, rotator pid
_lock = threading.Lock()


def _issue() -> None:
    client = vault.current()
    if client is None:
        raise vault.VaultError("VAULT_DB_ROLE is set but Vault is not configured (VAULT_ADDR)")
    credentials = client.database_credentials(_state["role"], mount=_state["mount"])
    database = _state["database"]
    database["USER"], database["PASSWORD"] = credentials["username"], credentials["password"]
    redaction.learn([credentials["password"]])
    _state["ttl"] = float(credentials["lease_duration"] or 3600)
    _state["issued_at"] = time.monotonic()
    pool = database.get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict):
        pool["max_lifetime"] = min(float(pool.get("max_lifetime") or _state["ttl"]), _state["ttl"] / 3)


def configure(database: dict, *, role: str, mount: str = "database") -> None:
    """Called by the settings: take the first credentials (a failure stops the process with one line)."""
    _state.update(role=role, mount=mount, database=database, rotator=None)
    try:
        _issue()
    except vault.VaultError as exc:
        raise SystemExit(f"configuration error: {exc} (dynamic database credentials, role {role})") from None


def rotate() -> None:
    """New credentials for the connections opened from now on (and for this process's connection pool)."""
    _issue()
    from django.db import connections

    for alias in connections:
        wrapper = connections[alias]
        pools = getattr(type(wrapper), "_connection_pools", {})
        pool = pools.get(alias)
        if pool is not None and isinstance(pool.kwargs, dict):
            pool.kwargs["user"] = _state["database"]["USER"]
            pool.kwargs["password"] = _state["database"]["PASSWORD"]
    ROTATIONS.labels(result="rotated").inc()
    logger.info("database credentials rotated (role %s, lease %.0f s)", _state["role"], _state["ttl"])


def _rotate_forever() -> None:
    while True:
        time.sleep(max(_state["ttl"] / 3 - (time.monotonic() - _state["issued_at"]), 1.0))
        try:
            rotate()
        except vault.VaultError as exc:
            ROTATIONS.labels(result="failed").inc()
            logger.error("database credential rotation failed: %s; retrying in a minute", exc)
            time.sleep(60)


def ensure_rotation(**kwargs) -> None:
    """`connection_created` receiver: this process rotates its credentials (once per process)."""
    if not _state:
        return
    with _lock:
        if _state.get("rotator") == os.getpid():
            return
        _state["rotator"] = os.getpid()
    threading.Thread(target=_rotate_forever, name="vault-db-credentials", daemon=True).start()
