"""The paginators the API versions use (common.api_versions picks one per request)."""

from typing import Any
from urllib.parse import parse_qs, urlparse

from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import Count, Window
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


_TOTAL = "_pagination_total"


class OneQueryPaginator(DjangoPaginator):
    """Django's paginator that reads a page and the total in one statement: `COUNT(*) OVER ()` on the page's rows.

    Django's asks the database twice (COUNT, then the rows). The total comes with the rows instead; only a page
    with no rows (past the end, or an empty list) still counts alone, to tell "empty" from "out of range". Lists
    with DISTINCT count apart as before: PostgreSQL computes window functions before DISTINCT.
    """

    def page(self, number):
        if self._counts_apart():
            return super().page(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            return super().page(number)  # "last" and bad values: Django's own answers and messages
        if number < 1:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        queryset: Any = self.object_list  # a QuerySet: _counts_apart() checked it
        rows = list(queryset.annotate(**{_TOTAL: Window(Count("*"))})[bottom : bottom + self.per_page])
        if not rows:
            return super().page(number)
        self.__dict__["count"] = getattr(rows[0], _TOTAL)  # the cached_property Paginator.count
        return self._get_page(rows, number, self)  # type: ignore[attr-defined]  # Django's documented hook

    def _counts_apart(self) -> bool:
        query = getattr(self.object_list, "query", None)
        # Orphans move rows between pages by the total, which must then be known first.
        return query is None or query.distinct or query.combinator is not None or bool(self.orphans)


class PageNumberPagination(StrictPageSize, pagination.PageNumberPagination):
    """v1: page-number pagination with a client-chosen page size, capped; one statement per page."""

    django_paginator_class = OneQueryPaginator


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
