"""The two steps of an SSO sign-in, mozilla-django-oidc's views made to answer 404 while SSO is off and to lead to
the admin: `/oidc/authenticate/` sends the browser to the provider, `/oidc/callback/` opens the admin session."""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.sso import SSO_SESSION_KEY, provider
from accounts.sso.backend import ISSUER_ATTRIBUTE, REFUSAL_ATTRIBUTE
from accounts.sso.services import REFUSAL_MESSAGES

logger = logging.getLogger("aiassistant.sso")
FAILED = "Single sign-on did not sign you in."


def _require_enabled() -> None:
    if not settings.OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")


def _to_login(request, message: str) -> HttpResponseRedirect:
    messages.error(request, message)
    return HttpResponseRedirect(reverse("admin:login"))


class SsoAuthenticateView(OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/?next=/admin/...: redirect to the provider's authorization endpoint (PKCE, nonce)."""

    def __init__(self, *args, **kwargs):
        View.__init__(self, *args, **kwargs)  # the endpoints are found per request (discovery may be needed)

    def dispatch(self, request, *args, **kwargs):
        _require_enabled()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider.current().authorization_endpoint
        except provider.ProviderUnavailable as exc:
            logger.warning("single sign-on: %s", exc)
            return _to_login(request, "Single sign-on is unavailable right now: the identity provider did not answer.")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().dispatch(request, *args, **kwargs)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """GET /oidc/callback/?code=...&state=...: the backend checks the answer; a staff session opens on the admin."""

    def dispatch(self, request, *args, **kwargs):
        _require_enabled()
        return super().dispatch(request, *args, **kwargs)

    @property
    def success_url(self):
        return self.request.session.get("oidc_login_next") or reverse("admin:index")

    def login_success(self):
        response = super().login_success()
        self.request.session[SSO_SESSION_KEY] = getattr(self.request, ISSUER_ATTRIBUTE, "") or "sso"
        return response

    def login_failure(self):
        reason = getattr(self.request, REFUSAL_ATTRIBUTE, "")
        return _to_login(self.request, f"{FAILED} {REFUSAL_MESSAGES.get(reason, '')}".strip())
