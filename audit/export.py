"""Streaming exports of audit events (CSV and JSON Lines), memory flat in the number of rows."""

import csv
import json
from collections.abc import Iterator

from django.http import StreamingHttpResponse

FIELDS = (
    "id",
    "sequence",
    "timestamp",
    "actor_kind",
    "actor_id",
    "actor_label",
    "category",
    "action",
    "resource_type",
    "resource_id",
    "project",
    "status_code",
    "request_id",
    "trace_id",
    "ip",
    "user_agent",
    "changes",
)


def item(event) -> dict:
    """One event in the API's and the exports' shape."""
    return {
        "id": str(event.id),
        "sequence": event.sequence,
        "timestamp": event.created_at.isoformat(),
        "actor": {"id": str(event.actor_id) if event.actor_id else None, "kind": event.actor_kind},
        "action": event.action,
        "category": event.category,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "project": str(event.project_id) if event.project_id else None,
        "status_code": event.status_code,
        "request_id": event.request_id,
        "trace_id": event.trace_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "changes": event.changes,
    }


class _Echo:
    def write(self, value):
        return value


def _csv_rows(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS)
    for event in queryset.iterator(chunk_size=2000):
        row = item(event)
        actor = row.pop("actor")
        row |= {"actor_kind": actor["kind"], "actor_id": actor["id"], "actor_label": event.actor_label}
        row["changes"] = json.dumps(row["changes"]) if row["changes"] is not None else ""
        yield writer.writerow([row[field] if row[field] is not None else "" for field in FIELDS])


def _jsonl_rows(queryset) -> Iterator[str]:
    for event in queryset.iterator(chunk_size=2000):
        yield json.dumps(item(event), separators=(",", ":")) + "\n"


def streaming(queryset, fmt: str, *, filename: str = "audit-events") -> StreamingHttpResponse:
    """The events as a download: fmt is "csv" or "jsonl"."""
    rows, content_type = (_csv_rows, "text/csv") if fmt == "csv" else (_jsonl_rows, "application/jsonl")
    response = StreamingHttpResponse(rows(queryset), content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
