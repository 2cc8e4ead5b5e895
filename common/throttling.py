"""DRF throttles backed by the shared cache, keyed by the trusted client address."""

from rest_framework import throttling
from rest_framework.settings import api_settings

from common.http import client_ip


class _SettingsRateMixin:
    scope: str | None

    def get_rate(self):
        # Read at request time (DRF binds rates at import), so settings overrides take effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")

    def get_ident(self, request):
        return client_ip(request)


class AnonThrottle(_SettingsRateMixin, throttling.AnonRateThrottle):
    """Anonymous requests, per client address."""


class UserThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    """Authenticated requests, per user."""


class AuthThrottle(_SettingsRateMixin, throttling.SimpleRateThrottle):
    """The strict scope for register and login, per client address (credential stuffing)."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OAuthTokenThrottle(_SettingsRateMixin, throttling.SimpleRateThrottle):
    """POST /o/token/ per client address (identity.views): each wrong client secret costs an Argon2 hash."""

    scope = "oauth_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
