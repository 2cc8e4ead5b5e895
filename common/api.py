"""Small view helpers shared by the apps' APIs."""

from django.utils.module_loading import import_string
from rest_framework.generics import GenericAPIView

from common import api_versions


class PaginatedListMixin(GenericAPIView):
    """For GenericViewSets whose querysets come from selectors: filter, order, paginate, serialize.

    The paginator is the request's API version's (page numbers in v1, cursors in v2).
    """

    @property
    def pagination_class(self):  # type: ignore[override]  # chosen per request, not per class
        request = getattr(self, "request", None)
        return import_string(api_versions.get(getattr(request, "version", None)).paginator)

    def list_response(self, queryset):
        page = self.paginate_queryset(self.filter_queryset(queryset))
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        response.paginated = True  # type: ignore[attr-defined]  # the envelope keeps the paginator's body
        return response
