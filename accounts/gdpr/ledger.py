"""The erasure ledger: one small JSON object per erasure in backup storage (`erasures/`), so that a restore of a
backup taken before an erasure can erase the person again (ops calls `accounts.gdpr.erasure.erasures_reapply`).

An entry holds the person's user id and the time, never an email: the ledger must not become the personal data
it exists to remove. It lives beside the backups because it must survive what a restore replaces (the database),
and, when a backup replica is configured (STORAGES["backups_replica"], another region), beside the replicas too:
a restore from the replica after the primary region is lost must still erase everyone erased since the backup.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

logger = logging.getLogger(__name__)

PREFIX = "erasures"
REPLICA_ALIAS = "backups_replica"


@dataclass(frozen=True)
class Entry:
    """One recorded erasure."""

    user_id: uuid.UUID
    erased_at: datetime


def _storage() -> Storage:
    return storages["backups"]


def _replica() -> Storage | None:
    return storages[REPLICA_ALIAS] if REPLICA_ALIAS in settings.STORAGES else None


def write(*, user_id, erased_at: datetime) -> str:
    """Record an erasure (in the backup storage, must succeed; then in the replica); returns its key
    (erasures/<time>-<user id>.json)."""
    key = f"{PREFIX}/{erased_at:%Y%m%dT%H%M%S%fZ}-{user_id}.json"
    body = json.dumps({"user_id": str(user_id), "erased_at": erased_at.isoformat()}).encode()
    stored = _storage().save(key, ContentFile(body, name=key))
    replica = _replica()
    if replica is not None:
        try:
            replica.save(stored, ContentFile(body, name=stored))
        except Exception as exc:  # the primary copy is written; the log names the gap (never the person)
            logger.error("erasure ledger: replica copy failed", extra={"key": stored, "error": type(exc).__name__})
    return stored


def _entries_in(storage: Storage) -> dict[str, Entry]:
    try:
        _, names = storage.listdir(PREFIX)
    except FileNotFoundError:  # a local folder where nothing was erased yet
        return {}
    found = {}
    for name in sorted(n for n in names if n.endswith(".json")):
        with storage.open(f"{PREFIX}/{name}", "rb") as fh:
            data = json.loads(fh.read())
        found[name] = Entry(uuid.UUID(data["user_id"]), datetime.fromisoformat(data["erased_at"]))
    return found


def entries() -> list[Entry]:
    """Every recorded erasure, oldest first: the union of the backup storage's and the replica's ledgers.

    One of the two may be unreachable (its region lost) when the other answers; with both unreachable the
    error is raised, so that a restore fails rather than skip the erasures.
    """
    found: dict[str, Entry] = {}
    stores = [("backup storage", _storage())] + ([("replica", r)] if (r := _replica()) is not None else [])
    errors = []
    for label, storage in stores:
        try:
            found.update(_entries_in(storage))
        except Exception as exc:
            if len(stores) == 1:
                raise
            errors.append(exc)
            logger.warning("erasure ledger: %s unreachable, reading the other copy", label)
    if len(errors) == len(stores):
        raise errors[0]
    return [found[name] for name in sorted(found)]
