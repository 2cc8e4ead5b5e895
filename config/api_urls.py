"""The API's routes, mounted three times by config/urls.py: `/api/v1/` (namespace v1), `/api/v2/` (v2) and
`/api/` (namespace api, version chosen by header). The views are the same; common.api_versions shapes responses."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from common.views import api_not_found
from identity.api.urls import client_urlpatterns, token_urlpatterns

urlpatterns = [
    path("auth/tokens/", include(token_urlpatterns)),
    path("auth/", include("accounts.api.urls")),
    path("projects/<uuid:project_pk>/oauth-clients/", include(client_urlpatterns)),
    path("projects/", include("projects.api.urls")),
    path("", include("workflows.api.urls")),
    path("audit/", include("audit.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # drf-spectacular's ReDoc page links Google Fonts, and ReDoc shows Redocly's logo from its CDN: ours loads neither.
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="common/redoc.html"), name="redoc"),
    re_path(r"^.*$", api_not_found),
]
