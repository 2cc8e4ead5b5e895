"""Small view helpers shared by the apps' APIs."""

from rest_framework.generics import GenericAPIView


class PaginatedListMixin(GenericAPIView):
    """For GenericViewSets whose querysets come from selectors: filter, order, paginate, serialize."""

    def list_response(self, queryset):
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
