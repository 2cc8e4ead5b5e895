"""Streaming exports of audit events (CSV and JSON Lines), memory flat in the number of rows."""

import csv
import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
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
    """One event in the API's shape (the exports carry the same fields)."""
    from audit.api.serializers import AuditEventOutputSerializer

    return AuditEventOutputSerializer(event).data


class _Echo:
    def write(self, value):
        return value


def _csv_rows(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS)
    for event in queryset.iterator(chunk_size=2000):
        row = dict(item(event))
        actor = row.pop("actor")
        row |= {"actor_kind": actor["kind"], "actor_id": actor["id"], "actor_label": event.actor_label}
        row["changes"] = json.dumps(row["changes"]) if row["changes"] is not None else ""
        yield writer.writerow([row[field] if row[field] is not None else "" for field in FIELDS])


def _jsonl_rows(queryset) -> Iterator[str]:
    for event in queryset.iterator(chunk_size=2000):
        yield json.dumps(item(event), separators=(",", ":"), cls=DjangoJSONEncoder) + "\n"


def streaming(queryset, fmt: str, *, filename: str = "audit-events") -> StreamingHttpResponse:
    """The events as a download: fmt is "csv" or "jsonl"."""
    rows, content_type = (_csv_rows, "text/csv") if fmt == "csv" else (_jsonl_rows, "application/jsonl")
    response = StreamingHttpResponse(rows(queryset), content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
