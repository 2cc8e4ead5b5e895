"""The API docs pages (drf-spectacular's views, served offline from drf-spectacular-sidecar) as this site serves them
under its Content-Security-Policy. Not in common/openapi.py: drf-spectacular's views import the schema class."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI with the response's CSP nonce on its inline code, and Cross-Origin-Opener-Policy same-origin.

    drf-spectacular answers `unsafe-none` there so that an OAuth2 authorization popup keeps its opener; these docs
    offer no such flow (bearer tokens are pasted in), so the page keeps the site's policy (docs/security.md)."""

    template_name = "common/swagger_ui.html"

    @extend_schema(exclude=True)  # a page, not an operation of the API (as drf-spectacular's own get says)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Cross-Origin-Opener-Policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
        return response
