import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, viewsets

from audit import export, selectors
from audit.api import serializers
from audit.models import AuditEvent
from common.api import PaginatedListMixin
from common.api_versions.drf import VersionedJSONRenderer
from common.filters import CanonicalUuidFilter, CreatedRangeFilterSet
from common.pagination import LegacyCursorPagination


class AuditEventFilter(CreatedRangeFilterSet):
    actor = CanonicalUuidFilter(field_name="actor_id")
    project = CanonicalUuidFilter(field_name="project_id")

    class Meta:
        model = AuditEvent
        fields = ["action", "category", "resource_type", "resource_id", "request_id"]


class _Download(renderers.BaseRenderer):
    """Selects a streamed export with ?format= (the list answers it itself, streaming)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - never rendered
        raise NotImplementedError


class CsvRenderer(_Download):
    media_type, format = "text/csv", "csv"


class JsonLinesRenderer(_Download):
    media_type, format = "application/jsonl", "jsonl"


FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["csv", "jsonl"],
    description="Download the filtered events as a streamed CSV or JSON Lines file instead of a page.",
)


class AuditEventViewSet(PaginatedListMixin, viewsets.GenericViewSet):
    """The audit trail: your own events; your projects' if you own or administer them; all with the audit view
    permission. Cursor pagination in every version, newest first."""

    serializer_class = serializers.AuditEventOutputSerializer
    queryset = AuditEvent.objects.none()
    filterset_class = AuditEventFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    renderer_classes = [VersionedJSONRenderer, CsvRenderer, JsonLinesRenderer]

    @property
    def pagination_class(self):  # type: ignore[override]  # cursors in every version
        request = getattr(self, "request", None)
        if getattr(request, "version", None) == "1":
            return LegacyCursorPagination
        return super().pagination_class

    def perform_content_negotiation(self, request, force=False):
        # ?format=csv|jsonl selects a download for a GET; any other method (OPTIONS) answers JSON (found by
        # schemathesis: OPTIONS ?format=csv answered 500).
        renderer, media_type = super().perform_content_negotiation(request, force)
        if request.method != "GET" and isinstance(renderer, _Download):
            return VersionedJSONRenderer(), VersionedJSONRenderer.media_type
        return renderer, media_type

    def handle_exception(self, exc):
        # An error is problem+json whatever ?format= asked for: the download renderers only select the stream and
        # cannot render a body (before this, an anonymous ?format=csv answered 500).
        self.request.accepted_renderer = VersionedJSONRenderer()
        self.request.accepted_media_type = VersionedJSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(tags=["audit"], parameters=[FORMAT])
    def list(self, request):
        events = self.filter_queryset(selectors.event_list(user=request.user))
        fmt = getattr(request.accepted_renderer, "format", "json")
        if fmt in ("csv", "jsonl"):
            return export.streaming(events.order_by("created_at", "id"), fmt)
        return self.list_response(events)
