"""Filter sets shared by the apps' list endpoints."""

import django_filters


class CreatedRangeFilterSet(django_filters.FilterSet):
    """`created_after` (inclusive) and `created_before` (exclusive) on `created_at`, ISO 8601."""

    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
