"""The identity provider's endpoints and issuer: explicit OIDC_OP_* settings, else its discovery document
(OIDC_OP_DISCOVERY_URL, `/.well-known/openid-configuration`), read when first needed and kept for an hour."""

import threading
import time
from dataclasses import dataclass

import requests
from django.conf import settings

DISCOVERY_TTL = 3600.0
WELL_KNOWN = "/.well-known/openid-configuration"


class ProviderUnavailable(Exception):
    """The discovery document could not be read, or lacks an endpoint the flow needs."""


@dataclass(frozen=True)
class Provider:
    """Where the flow goes: the endpoints and the issuer every id_token must name."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""


_lock = threading.Lock()
_cache: dict[str, tuple[float, Provider]] = {}


def discovery_url() -> str:
    url = settings.OIDC_OP_DISCOVERY_URL.rstrip("/")
    return url if url.endswith(WELL_KNOWN) else url + WELL_KNOWN


def _discover(url: str) -> dict:
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"the discovery document at {url} could not be read ({type(exc).__name__})") from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"the discovery document at {url} is not a JSON object")
    return document


def current() -> Provider:
    """The provider, explicit settings first; raises ProviderUnavailable when something needed is missing."""
    explicit = {
        "issuer": settings.OIDC_OP_ISSUER,
        "authorization_endpoint": settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
        "token_endpoint": settings.OIDC_OP_TOKEN_ENDPOINT,
        "jwks_uri": settings.OIDC_OP_JWKS_ENDPOINT,
        "userinfo_endpoint": settings.OIDC_OP_USER_ENDPOINT,
    }
    found: dict[str, str] = {}
    if settings.OIDC_OP_DISCOVERY_URL:
        url = discovery_url()
        with _lock:
            cached = _cache.get(url)
            if cached is None or cached[0] < time.monotonic():
                document = _discover(url)
                cached = (time.monotonic() + DISCOVERY_TTL, _from_document(document))
                _cache[url] = cached
        found = {name: getattr(cached[1], name) for name in explicit}
    values = {name: explicit[name] or found.get(name, "") for name in explicit}
    missing = [name for name, value in values.items() if not value and name != "userinfo_endpoint"]
    if missing:
        raise ProviderUnavailable(f"the identity provider's {', '.join(missing)} is not known")
    return Provider(**values)


def _from_document(document: dict) -> Provider:
    return Provider(
        issuer=str(document.get("issuer") or ""),
        authorization_endpoint=str(document.get("authorization_endpoint") or ""),
        token_endpoint=str(document.get("token_endpoint") or ""),
        jwks_uri=str(document.get("jwks_uri") or ""),
        userinfo_endpoint=str(document.get("userinfo_endpoint") or ""),
    )


def forget() -> None:
    """Drop the cached discovery documents (tests; a provider that moved its endpoints)."""
    with _lock:
        _cache.clear()
