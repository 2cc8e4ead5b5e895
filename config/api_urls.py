"""The API's routes, mounted three times by config/urls.py: `/api/v1/` (namespace v1), `/api/v2/` (v2) and
`/api/` (namespace api, version chosen by header). The views are the same; common.api_versions shapes responses."""

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from common.docs_views import SwaggerView
from common.views import api_not_found
from identity.api.urls import client_urlpatterns, token_urlpatterns

# ReDoc's bundle (drf-spectacular-sidecar, pinned) adds one <style> of its own (webpack's style-loader) before ReDoc
# hands styled-components the page's nonce: it is allowed by the hashes of its contents (empty when inserted, then
# its CSS), and nothing else inline is. A new sidecar release with other CSS fails
# tests/common/test_docs_browser.py, whose message names the hash to put here.
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
]
redoc = SpectacularRedocView.as_view(url_name="schema", template_name="common/redoc.html")

urlpatterns = [
    path("auth/tokens/", include(token_urlpatterns)),
    path("auth/", include("accounts.api.urls")),
    path("projects/<uuid:project_pk>/oauth-clients/", include(client_urlpatterns)),
    path("projects/", include("projects.api.urls")),
    path("invitations/", include("projects.api.invitation_urls")),
    path("", include("workflows.api.urls")),
    path("audit/", include("audit.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Both pages put the response's CSP nonce on their inline code (common/templates/common/).
    path("docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    # drf-spectacular's ReDoc page links Google Fonts, and ReDoc shows Redocly's logo from its CDN: ours loads neither.
    path("redoc/", csp_update({"style-src": REDOC_STYLE_HASHES})(redoc), name="redoc"),
    re_path(r"^.*$", api_not_found),
]
