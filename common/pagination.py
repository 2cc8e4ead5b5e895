"""The paginators the API versions use (common.api_versions picks one per request)."""

from urllib.parse import parse_qs, urlparse

from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.settings import api_settings


class PageNumberPagination(pagination.PageNumberPagination):
    """v1: page-number pagination with a client-chosen page size, capped."""

    page_size_query_param = "page_size"
    max_page_size = 100


class CursorPagination(pagination.CursorPagination):
    """v2: opaque cursors, newest first by creation then id, no COUNT(*) unless `?include=total`.

    A cursor holds a position in the ordering (not an offset), so rows inserted meanwhile neither repeat nor
    vanish from the pages that follow. `?ordering=` (where the endpoint allows it) replaces the default order.
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_ordering(self, request, queryset, view):
        if request.query_params.get(api_settings.ORDERING_PARAM):
            return super().get_ordering(request, queryset, view)
        return self.ordering  # the endpoint's v1 default order (e.g. by name) is not a stable cursor key

    def paginate_queryset(self, queryset, request, view=None):
        self.total = queryset.count() if "total" in request.query_params.getlist("include") else None
        return super().paginate_queryset(queryset, request, view)

    def _cursor(self, link: str | None) -> str | None:
        if link is None:
            return None
        return parse_qs(urlparse(link).query).get(self.cursor_query_param, [None])[0]

    def get_paginated_response(self, data):
        page = {
            "next_cursor": self._cursor(self.get_next_link()),
            "prev_cursor": self._cursor(self.get_previous_link()),
            "page_size": self.page_size,
            "has_more": self.has_next,
        }
        if self.total is not None:
            page["total"] = self.total
        return Response({"data": data, "pagination": page})

    def get_paginated_response_schema(self, schema):
        cursor = {"type": "string", "nullable": True, "description": "Pass as ?cursor= for the adjacent page."}
        return {
            "type": "object",
            "required": ["data", "pagination", "meta"],
            "properties": {
                "data": schema,
                "pagination": {
                    "type": "object",
                    "required": ["next_cursor", "prev_cursor", "page_size", "has_more"],
                    "properties": {
                        "next_cursor": cursor,
                        "prev_cursor": cursor,
                        "page_size": {"type": "integer"},
                        "has_more": {"type": "boolean"},
                        "total": {"type": "integer", "description": "Only with ?include=total."},
                    },
                },
                "meta": {"$ref": "#/components/schemas/Meta"},
            },
        }

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        return [
            *parameters,
            {
                "name": "include",
                "required": False,
                "in": "query",
                "description": "`total` adds pagination.total (one COUNT query).",
                "schema": {"type": "string", "enum": ["total"]},
            },
        ]


class LegacyCursorPagination(pagination.CursorPagination):
    """v1 endpoints born with cursors (the audit trail): `{"next", "previous", "results"}`, newest first."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100
