"""DRF throttles backed by the shared cache, keyed by the trusted client address."""

import time
import uuid
from typing import Any

from django.core.cache import cache
from rest_framework import throttling
from rest_framework.settings import api_settings

from common.http import client_ip

# DRF's sliding window (drop the stamps older than the window; refuse at the limit; else add a stamp) as one
# Redis script, so that a request costs one round trip instead of DRF's read then write of a pickled list, and
# two concurrent requests cannot both take the last slot. Returns [stamps in the window, oldest stamp or 0].
_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local used = redis.call('ZCARD', KEYS[1])
if used < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
  used = used + 1
else
  used = -used
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {used, oldest[2] or '0'}
"""
# Not DRF's key: DRF keeps a pickled list there, and processes of the previous release may still read it.
WINDOW_KEY_PREFIX = "window:"
_script = None  # redis-py's Script: EVALSHA, loading the script on first use by each server


def _redis():
    """The shared cache's Redis client, or None when the cache is not Redis (the embedded default)."""
    client: Any = getattr(cache, "client", None)
    return client.get_client(write=True) if hasattr(client, "get_client") else None


class _SettingsRateMixin:
    scope: str | None

    def get_rate(self):
        # Read at request time (DRF binds rates at import), so settings overrides take effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        redis = _redis()
        if redis is None:
            return super().allow_request(request, view)  # type: ignore[misc]  # DRF's, on the local cache
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[attr-defined]
        self.key = self.get_cache_key(request, view)  # type: ignore[attr-defined]
        if self.key is None:
            return True
        self.now = time.time()
        global _script
        if _script is None:
            _script = redis.register_script(_WINDOW)
        used, oldest = _script(
            keys=[cache.make_key(WINDOW_KEY_PREFIX + self.key)],
            args=[self.now, self.duration, self.num_requests, uuid.uuid4().hex],
            client=redis,
        )
        self._oldest = float(oldest)
        return int(used) > 0

    def wait(self):
        if _redis() is None:
            return super().wait()  # type: ignore[misc]
        return max(self._oldest + self.duration - self.now, 0.0)  # the oldest stamp leaves the window then


class AnonThrottle(_SettingsRateMixin, throttling.AnonRateThrottle):
    """Anonymous requests, per client address."""


class UserThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    """Authenticated requests, per user."""


class AuthThrottle(_SettingsRateMixin, throttling.SimpleRateThrottle):
    """The strict scope for register and login, per client address (credential stuffing)."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class EmailThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    """Mails a person may ask for (verification resend), per user: each one lands in someone's inbox."""

    scope = "email"


class OAuthTokenThrottle(_SettingsRateMixin, throttling.SimpleRateThrottle):
    """POST /o/token/ per client address (identity.views): each wrong client secret costs an Argon2 hash."""

    scope = "oauth_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
