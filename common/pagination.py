"""The paginators the API versions use (common.api_versions picks one per request)."""

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

from django.core.paginator import EmptyPage, Page
from django.core.paginator import Paginator as DjangoPaginator
from django.db import connections
from django.db.models import IntegerField, Value
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
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


def capped_count(queryset, limit: int) -> RawSQL:
    """`min(rows, limit + 1)` of a queryset, as an expression that a query of the same rows can select.

    An uncorrelated scalar subquery (`SELECT COUNT(*) FROM (SELECT 1 ... LIMIT limit + 1)`): the database computes
    it once per statement and stops after limit + 1 index entries, where `COUNT(*) OVER ()` reads every row of the
    list (100,000 executions of a workflow: O(n), bench/scale.py).
    """
    sql, params = queryset.order_by().values(_one=Value(1))[: limit + 1].query.sql_with_params()
    # The SQL is Django's own compilation of the queryset, its values still parameters: nothing is interpolated.
    capped = f"SELECT COUNT(*) FROM ({sql}) AS capped"  # noqa: S608  # nosec B608
    return RawSQL(capped, params, output_field=IntegerField())  # noqa: S611  # nosec B611


def estimated_count(queryset) -> int | None:
    """The planner's row estimate of a queryset (PostgreSQL; None elsewhere): one EXPLAIN, no rows read."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int((plan[0] if isinstance(plan, list) else plan)["Plan"]["Plan Rows"])


class ProbedPage(Page):
    """A page that knows whether another follows from one row read past its end, not from the total (which may
    be an estimate)."""

    def __init__(self, object_list, number, paginator, *, more: bool):
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def next_page_number(self) -> int:
        return self.number + 1


class OneQueryPaginator(DjangoPaginator):
    """Django's paginator that reads a page and the total in one statement, with the total bounded in cost.

    Django's asks the database twice (COUNT, then the rows). The total comes with the rows instead, as a capped
    count (`capped_count`): exact up to EXACT_COUNT_LIMIT rows; above it, the planner's estimate (one EXPLAIN,
    never less than EXACT_COUNT_LIMIT + 1 nor than the rows up to this page), so a page of a list of a million
    rows costs what a page of a small one costs. `next` does not depend on the total: the page reads one row more
    than it shows. Only a page with no rows (past the end, or an empty list) is answered without the total:
    "empty" for page 1, "out of range" after. Lists with DISTINCT, and `?page=last`, count apart (exactly) as
    before.
    """

    EXACT_COUNT_LIMIT = 10_000

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
        limit = self.EXACT_COUNT_LIMIT
        rows = list(queryset.annotate(**{_TOTAL: capped_count(queryset, limit)})[bottom : bottom + self.per_page + 1])
        if not rows:
            if number > 1:
                raise EmptyPage(_("That page contains no results"))
            self.__dict__["count"] = 0
            return ProbedPage([], number, self, more=False)
        total = getattr(rows[0], _TOTAL)
        if total > limit:
            estimate = estimated_count(queryset)
            total = queryset.count() if estimate is None else max(estimate, limit + 1, bottom + len(rows))
        self.__dict__["count"] = total  # the cached_property Paginator.count
        return ProbedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)

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
