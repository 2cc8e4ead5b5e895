"""The erasure ledger: one small JSON object per erasure in backup storage (`erasures/`), so that a restore of a
backup taken before an erasure can erase the person again (ops calls `accounts.gdpr.erasure.erasures_reapply`).

An entry holds the person's user id and the time, never an email: the ledger must not become the personal data
it exists to remove. It lives beside the backups because it must survive what a restore replaces (the database).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

PREFIX = "erasures"


@dataclass(frozen=True)
class Entry:
    """One recorded erasure."""

    user_id: uuid.UUID
    erased_at: datetime


def _storage() -> Storage:
    return storages["backups"]


def write(*, user_id, erased_at: datetime) -> str:
    """Record an erasure; returns its key (erasures/<time>-<user id>.json)."""
    key = f"{PREFIX}/{erased_at:%Y%m%dT%H%M%S%fZ}-{user_id}.json"
    body = json.dumps({"user_id": str(user_id), "erased_at": erased_at.isoformat()}).encode()
    return _storage().save(key, ContentFile(body, name=key))


def entries() -> list[Entry]:
    """Every recorded erasure, oldest first."""
    storage = _storage()
    try:
        _, names = storage.listdir(PREFIX)
    except FileNotFoundError:  # a local folder where nothing was erased yet
        return []
    found = []
    for name in sorted(n for n in names if n.endswith(".json")):
        with storage.open(f"{PREFIX}/{name}", "rb") as fh:
            data = json.loads(fh.read())
        found.append(Entry(uuid.UUID(data["user_id"]), datetime.fromisoformat(data["erased_at"])))
    return found
