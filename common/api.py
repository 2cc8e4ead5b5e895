"""Small view helpers shared by the apps' APIs."""


class PaginatedListMixin:
    """For GenericViewSets whose querysets come from selectors: filter, order, paginate, serialize."""

    def list_response(self, queryset):
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
