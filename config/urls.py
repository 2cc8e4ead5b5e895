from django.contrib import admin
from django.urls import include, path
from oauth2_provider import views as oauth2_views

from common import health
from common.metrics_view import metrics_view
from common.views import home
from identity.views import ThrottledTokenView

admin.site.site_header = "aiassistant-api administration"
admin.site.site_title = "aiassistant-api"

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    # Single sign-on for staff into the admin (accounts.sso): 404 while OIDC_RP_CLIENT_ID is unset.
    path("oidc/", include("accounts.sso.urls")),
    path("health/live/", health.live, name="health-live"),
    path("health/ready/", health.ReadyView.as_view(), name="health-ready"),
    path("health/detailed/", health.DetailedView.as_view(), name="health-detailed"),
    path("metrics", metrics_view, name="metrics"),
    # OAuth2 (django-oauth-toolkit): the client-credentials token endpoint and revocation only; its errors are
    # RFC 6749's JSON ({"error", "error_description"}), which OAuth2 clients expect (docs/security.md).
    path("o/token/", ThrottledTokenView.as_view(), name="oauth2-token"),
    path("o/revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="oauth2-revoke"),
    path("api/v1/", include(("config.api_urls", "v1"))),
    path("api/v2/", include(("config.api_urls", "v2"))),
    path("api/", include(("config.api_urls", "api"))),
]

handler400 = "common.views.handler400"
handler404 = "common.views.handler404"
handler500 = "common.views.handler500"
