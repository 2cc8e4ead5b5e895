"""The tamper-evident chain: what a row's hash covers, and how seals link.

A row's hash covers every column of the row in canonical JSON, its sequence included (so a reordering changes
it), with the personal columns replaced by their keyed hashes (columns stored at write time): retention and
erasure may clear a raw address or user agent and the hash still holds. A seal covers the rows first..last by
their hashes (kept in the seal, 32 bytes each, and in its copy in backup storage, with the rows' ids), the hash
of the previous seal, and an HMAC under AUDIT_HMAC_KEY, which the database never holds.
"""

import datetime
import decimal
import hashlib
import heapq
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from audit.models import EVENT_PERSONAL_FIELDS, HISTORY_PERSONAL_FIELDS, AuditEvent, ModelHistory

GENESIS = "0" * 64
STORAGE_PREFIX = "audit-seals"


@dataclass(frozen=True)
class Table:
    """One audited table, as the chain sees it."""

    kind: str
    model: Any  # AuditEvent or ModelHistory
    personal: tuple[str, ...]
    created: str  # the column rows are ordered by before they have a sequence

    def columns(self) -> list[str]:
        return [f.attname for f in self.model._meta.concrete_fields if f.attname not in self.personal]


TABLES = (
    Table("event", AuditEvent, EVENT_PERSONAL_FIELDS, "created_at"),
    Table("history", ModelHistory, HISTORY_PERSONAL_FIELDS, "timestamp"),
)
BY_KIND = {table.kind: table for table in TABLES}


def _plain(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date | uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def row_hash(kind: str, row: dict) -> bytes:
    """sha256 of a row (a dict of its columns, as `Table.columns()` lists them)."""
    canonical = {"kind": kind, **{key: _plain(value) for key, value in row.items()}}
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).digest()


def rows_hash(hashes: bytes) -> str:
    return hashlib.sha256(hashes).hexdigest()


def seal_hash(*, kind: str, first: int, last: int, rows: str, previous: str) -> str:
    data = json.dumps({"kind": kind, "first": first, "last": last, "rows": rows, "previous": previous}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def storage_key(last_sequence: int) -> str:
    return f"{STORAGE_PREFIX}/{last_sequence:015d}.json"


@dataclass(frozen=True)
class SealedRow:
    sequence: int
    kind: str
    id: str
    hash: bytes


def sealed_rows(*, since: int = 1, chunk: int = 2000) -> Iterator[SealedRow]:
    """Every sequenced row from `since` on, in sequence order, both tables merged; memory flat in the rows."""

    def stream(table: Table) -> Iterator[SealedRow]:
        columns = table.columns()
        rows = (
            table.model.objects.filter(sequence__gte=since)
            .order_by("sequence")
            .values(*columns)
            .iterator(chunk_size=chunk)
        )
        for row in rows:
            yield SealedRow(
                row["sequence"], table.kind, str(row[table.model._meta.pk.attname]), row_hash(table.kind, row)
            )

    return heapq.merge(*(stream(table) for table in TABLES), key=lambda row: row.sequence)
