"""The paginators the API versions use (common.api_versions picks one per request)."""

from urllib.parse import parse_qs, urlparse

from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.settings import api_settings

from common.errors import Invalid


class StrictPageSize:
    """`?page_size=` is a positive integer or absent: anything else is a 400, not a silent default page (found by
    schemathesis: `?page_size=null` answered 200). Above `max_page_size` it is capped, as the schema says."""

    page_size: int | None
    page_size_query_param: str | None = "page_size"
    max_page_size: int | None = 100

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not (values[0].isascii() and values[0].isdigit()) or int(values[0]) < 1:
            raise Invalid("page_size must be one positive integer.", field=self.page_size_query_param)
        return min(int(values[0]), self.max_page_size or int(values[0]))

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)  # type: ignore[misc]
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = f"Items per page, at most {self.max_page_size} (larger is capped)."
        return parameters


class PageNumberPagination(StrictPageSize, pagination.PageNumberPagination):
    """v1: page-number pagination with a client-chosen page size, capped."""


class CursorPagination(StrictPageSize, pagination.CursorPagination):
    """v2: opaque cursors, newest first by creation then id, no COUNT(*) unless `?include=total`.

    A cursor holds a position in the ordering (not an offset), so rows inserted meanwhile neither repeat nor
    vanish from the pages that follow. `?ordering=` (where the endpoint allows it) replaces the default order.
    """

    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        if request.query_params.get(api_settings.ORDERING_PARAM):
            return super().get_ordering(request, queryset, view)
        return self.ordering  # the endpoint's v1 default order (e.g. by name) is not a stable cursor key

    def paginate_queryset(self, queryset, request, view=None):
        include = request.query_params.getlist("include")
        if set(include) - {"total"}:
            raise Invalid("include takes one value: total.", field="include")
        self.total = queryset.count() if include else None
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


class LegacyCursorPagination(StrictPageSize, pagination.CursorPagination):
    """v1 endpoints born with cursors (the audit trail): `{"next", "previous", "results"}`, newest first."""

    ordering = ("-created_at", "-id")
