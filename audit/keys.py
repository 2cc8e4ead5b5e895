"""Keyed hashes with AUDIT_HMAC_KEY: personal values in the chain, and the seals' HMAC.

The two uses derive separate keys, so that a personal-value hash can never pass for a seal's HMAC.
"""

import functools
import hashlib
import hmac

from django.conf import settings


def _key(purpose: str) -> bytes:
    return _derive(settings.AUDIT_HMAC_KEY, purpose)


@functools.lru_cache(maxsize=8)
def _derive(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).digest()


def personal(value: str | None) -> str:
    """The keyed hash of a personal value (an address, a user agent, an attempted email); "" for none."""
    if not value:
        return ""
    return hmac.new(_key("personal"), value.encode(), hashlib.sha256).hexdigest()


def seal(seal_hash: str) -> str:
    """The HMAC of a seal's hash: only a holder of AUDIT_HMAC_KEY can make a seal that verifies."""
    return hmac.new(_key("seal"), seal_hash.encode(), hashlib.sha256).hexdigest()
