"""A paginator that never counts a big table: PostgreSQL's planner estimate instead of COUNT(*).

The admin's changelist asks its paginator for a count on every page; on an audit table of millions of rows a
COUNT(*) is the slowest part of the page (django-auditlog #816, coder/coder#17689). The planner's estimate of
the (filtered) query costs one EXPLAIN. Other databases (SQLite, the embedded default) count for real.
"""

import json
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import connections


class EstimatedCountPaginator(Paginator):
    """Paginator whose count is the planner's row estimate on PostgreSQL."""

    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return queryset.count()
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])
