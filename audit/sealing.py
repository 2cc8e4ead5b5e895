"""Sealing (`audit_seal`, every minute by beat) and verification (`audit_verify`, daily) of the chain.

Writers never wait on each other: rows are written without a sequence; the sealer, alone (an advisory lock),
numbers the rows committed since the last seal in batches, gap-free, and links one seal per batch. Each seal
is also written to backup storage, so that whoever controls the database alone cannot rewrite history and its
seals together.
"""

import contextlib
import heapq
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone

from audit import chain, keys
from audit.models import AuditEvent, AuditRemoval, AuditSeal, SealKind

logger = logging.getLogger("aiassistant.audit")

SEAL_BATCH = 5000
_LOCK_ID = 0x41554454  # "AUDT": pg_advisory_xact_lock key of the sealer


class ChainBroken(Exception):
    """audit_verify found a changed, deleted, reordered or inserted row, or a seal that does not hold."""


@contextlib.contextmanager
def _allowed(flag: str):
    """Inside a transaction: let the append-only trigger accept this path's writes (PostgreSQL only)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [f"audit.{flag}"])
    yield


def _store_copy(seal: AuditSeal, rows: list[chain.SealedRow]) -> None:
    copy = {
        "kind": seal.kind,
        "first_sequence": seal.first_sequence,
        "last_sequence": seal.last_sequence,
        "rows_hash": seal.rows_hash,
        "previous_hash": seal.previous_hash,
        "seal_hash": seal.seal_hash,
        "hmac": seal.hmac,
        "created_at": seal.created_at.isoformat(),
        "rows": [[row.sequence, row.kind, row.id, row.hash.hex()] for row in rows],
    }
    storage, key = storages["backups"], chain.storage_key(seal.last_sequence)
    with contextlib.suppress(FileNotFoundError):
        if storage.exists(key):  # a seal whose transaction failed after its copy was written: same content
            storage.delete(key)
    storage.save(key, ContentFile(json.dumps(copy, separators=(",", ":")).encode(), name=key))


def _unsealed(limit: int) -> list[tuple]:
    """The oldest rows without a sequence, both tables, by creation: [(created, kind, object)]."""
    found = []
    for table in chain.TABLES:
        rows = table.model.objects.filter(sequence__isnull=True).order_by(table.created, "pk")[:limit]
        found.append([(getattr(row, table.created), table.kind, str(row.pk), row) for row in rows])
    return list(heapq.merge(*found, key=lambda r: (r[0], r[1], r[2])))[:limit]


def _number(model, objects: list) -> None:
    """Write the sequences given to `objects`. On PostgreSQL one UPDATE joined to the (id, sequence) arrays:
    Django's bulk_update builds a CASE with one branch per row, which took about 80 % of the sealer's time at
    5,000 rows a seal (bench/audit.py)."""
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, ["sequence"], batch_size=1000)
        return
    meta = model._meta
    table, pk = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET sequence = numbered.sequence "  # noqa: S608 (names from the model)  # nosec B608
            f"FROM unnest(%s::{meta.pk.rel_db_type(connection)}[], %s::bigint[]) AS numbered(id, sequence) "
            f"WHERE {table}.{pk} = numbered.id",
            [[obj.pk for obj in objects], [obj.sequence for obj in objects]],
        )
        if cursor.rowcount != len(objects):
            raise RuntimeError(f"sealing {meta.db_table}: {cursor.rowcount} of {len(objects)} rows numbered")


def _link(*, kind: str, first: int, last: int, hashes: bytes, previous: str) -> AuditSeal:
    rows = chain.rows_hash(hashes) if hashes else ""
    digest = chain.seal_hash(kind=kind, first=first, last=last, rows=rows, previous=previous)
    return AuditSeal(
        kind=kind,
        first_sequence=first,
        last_sequence=last,
        row_hashes=hashes,
        rows_hash=rows,
        previous_hash=previous,
        seal_hash=digest,
        hmac=keys.seal(digest),
        created_at=timezone.now(),
    )


def seal_once(batch: int = SEAL_BATCH) -> AuditSeal | None:
    """Seal up to `batch` rows committed since the last seal; None when there is nothing to seal."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        pending = _unsealed(batch)
        if not pending:
            return None
        last = AuditSeal.objects.order_by("-last_sequence").first()
        sequence = last.last_sequence + 1 if last else 1
        previous = last.seal_hash if last else chain.GENESIS
        first = sequence
        rows: list[chain.SealedRow] = []
        by_model: dict[Any, list] = {}
        for _, kind, pk, obj in pending:
            obj.sequence = sequence
            table = chain.BY_KIND[kind]
            values = {column: getattr(obj, column) for column in table.columns()}
            rows.append(chain.SealedRow(sequence, kind, pk, chain.row_hash(kind, values)))
            by_model.setdefault(table.model, []).append(obj)
            sequence += 1
        with _allowed("sealing"):
            for model, objects in by_model.items():
                _number(model, objects)
        seal = _link(
            kind=SealKind.SEAL, first=first, last=sequence - 1, hashes=b"".join(r.hash for r in rows), previous=previous
        )
        seal.save()
        _store_copy(seal, rows)
    return seal


def seal_all(batch: int = SEAL_BATCH) -> list[AuditSeal]:
    """Seal everything pending, one seal per batch."""
    seals = []
    while (seal := seal_once(batch)) is not None:
        seals.append(seal)
    return seals


def seal_lag_seconds() -> float:
    """Age of the oldest row waiting for a seal (0 when everything is sealed)."""
    oldest = [
        table.model.objects.filter(sequence__isnull=True).order_by(table.created).values_list(table.created, flat=True)
        for table in chain.TABLES
    ]
    times = [qs.first() for qs in oldest]
    times = [moment for moment in times if moment is not None]
    return max(0.0, (timezone.now() - min(times)).total_seconds()) if times else 0.0


# --- verification ---------------------------------------------------------------------------------------------


@dataclass
class Verified:
    """What audit_verify checked."""

    seals: int
    rows: int
    removed: int
    first: int | None
    last: int | None
    pending: int


def _copy_of(seal: AuditSeal) -> dict:
    try:
        with storages["backups"].open(chain.storage_key(seal.last_sequence), "rb") as copy:
            return json.loads(copy.read())
    except FileNotFoundError:
        raise ChainBroken(
            f"seal {seal.first_sequence}..{seal.last_sequence}: its copy is missing from storage"
        ) from None


def _check_seal(seal: AuditSeal, previous: str | None) -> dict:
    hashes = bytes(seal.row_hashes)
    digest = chain.seal_hash(
        kind=seal.kind,
        first=seal.first_sequence,
        last=seal.last_sequence,
        rows=chain.rows_hash(hashes) if hashes else "",
        previous=seal.previous_hash,
    )
    where = f"seal {seal.first_sequence}..{seal.last_sequence}"
    if previous is not None and seal.previous_hash != previous:
        raise ChainBroken(f"{where}: does not follow the previous seal (a seal was changed, removed or inserted)")
    if digest != seal.seal_hash or (hashes and chain.rows_hash(hashes) != seal.rows_hash):
        raise ChainBroken(f"{where}: its hash does not match its content (the seal was rewritten)")
    if keys.seal(seal.seal_hash) != seal.hmac:
        raise ChainBroken(f"{where}: its HMAC is wrong (not made with AUDIT_HMAC_KEY)")
    copy = _copy_of(seal)
    if (copy["seal_hash"], copy["hmac"]) != (seal.seal_hash, seal.hmac):
        raise ChainBroken(f"{where}: differs from its copy in storage")
    return copy


def verify(*, since: int | None = None) -> Verified:
    """Recompute the chain from the first seal (after the latest retention checkpoint), or from the seal holding
    sequence `since`; raise ChainBroken naming the first row or seal that does not hold."""
    checkpoint = AuditSeal.objects.filter(kind=SealKind.CHECKPOINT).order_by("-last_sequence").first()
    if since is not None:
        start, expected = since, None  # the chain before `since` is taken as verified
    elif checkpoint is not None:
        _check_seal(checkpoint, None)
        start, expected = checkpoint.last_sequence + 1, checkpoint.previous_hash
    else:
        start, expected = 1, chain.GENESIS
    removed = set(AuditRemoval.objects.filter(sequence__gte=start).values_list("sequence", flat=True))
    rows = chain.sealed_rows(since=start)
    row = next(rows, None)
    counted = seal_count = 0
    first = last = None
    seals = AuditSeal.objects.filter(kind=SealKind.SEAL, last_sequence__gte=start).order_by("last_sequence")
    for seal in seals.iterator(chunk_size=100):
        copy = _check_seal(seal, expected)
        expected = seal.seal_hash
        seal_count += 1
        first = seal.first_sequence if first is None else first
        last = seal.last_sequence
        ids = {entry[0]: f"{entry[1]} {entry[2]}" for entry in copy["rows"]}
        hashes = bytes(seal.row_hashes)
        for sequence in range(max(seal.first_sequence, start), seal.last_sequence + 1):
            index = sequence - seal.first_sequence
            if row is not None and row.sequence == sequence:
                if row.hash != hashes[index * 32 : (index + 1) * 32]:
                    raise ChainBroken(f"row changed or reordered: sequence {sequence}, {row.kind} {row.id}")
                counted += 1
                row = next(rows, None)
            elif sequence not in removed:
                raise ChainBroken(f"row deleted: sequence {sequence}, {ids.get(sequence, 'id unknown')}")
    if row is not None:
        raise ChainBroken(f"row inserted: sequence {row.sequence}, {row.kind} {row.id} is covered by no seal")
    _check_late_rows()
    _check_removals()
    pending = sum(table.model.objects.filter(sequence__isnull=True).count() for table in chain.TABLES)
    return Verified(seal_count, counted, len(removed), first, last, pending)


def _check_late_rows() -> None:
    """A row without a sequence that is older than the newest seal by more than the grace is an insertion."""
    newest = AuditSeal.objects.order_by("-last_sequence").first()
    if newest is None:
        return
    before = newest.created_at - timedelta(seconds=settings.AUDIT_SEAL_GRACE_SECONDS)
    for table in chain.TABLES:
        late = table.model.objects.filter(sequence__isnull=True, **{f"{table.created}__lt": before}).first()
        if late is not None:
            raise ChainBroken(f"row inserted: {table.kind} {late.pk} is older than the newest seal but has no sequence")


def _check_removals() -> None:
    """Each retention run sealed the digest of the sequences it removed: the removal list must still match it."""
    from audit.retention import removal_digest

    runs = AuditEvent.objects.filter(action="retention.run", detail__has_key="removed_digest")
    for run in runs.iterator(chunk_size=100):
        sequences = AuditRemoval.objects.filter(removed_by=run.pk).values_list("sequence", flat=True)
        if removal_digest(sequences) != run.detail["removed_digest"]:
            raise ChainBroken(f"the removal list of retention run {run.pk} was altered")
