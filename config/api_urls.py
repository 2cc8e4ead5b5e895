"""API v1: one namespace per version (NamespaceVersioning reads request.version from it)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from common.views import api_not_found

app_name = "v1"

urlpatterns = [
    path("auth/", include("accounts.api.urls")),
    path("projects/", include("projects.api.urls")),
    path("", include("workflows.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="v1:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="v1:schema"), name="redoc"),
    re_path(r"^.*$", api_not_found),
]
