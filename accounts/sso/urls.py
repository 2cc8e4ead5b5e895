"""`/oidc/authenticate/` and `/oidc/callback/` (mounted by config/urls.py; both answer 404 while SSO is off)."""

from django.urls import path

from accounts.sso.views import SsoAuthenticateView, SsoCallbackView

urlpatterns = [
    path("authenticate/", SsoAuthenticateView.as_view(), name="oidc_authentication_init"),
    path("callback/", SsoCallbackView.as_view(), name="oidc_authentication_callback"),
]
