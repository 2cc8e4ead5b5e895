"""Filter sets shared by the apps' list endpoints."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend


class CreatedRangeFilterSet(django_filters.FilterSet):
    """`created_after` (inclusive) and `created_before` (exclusive) on `created_at`, ISO 8601."""

    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped for a request with no query string.

    With nothing to filter by, every filter of a set passes the queryset through unchanged (django-filter skips
    empty values), yet building and validating the set's form cost about a millisecond per list request. None of
    our filter sets has a required filter or a default value that would act on an empty query.
    """

    def filter_queryset(self, request, queryset, view):
        if not request.query_params:
            return queryset
        return super().filter_queryset(request, queryset, view)
