"""Request helpers shared by throttling and audit."""

from django.conf import settings


def client_ip(request) -> str:
    """The client address, trusting exactly TRUSTED_PROXY_COUNT proxies in X-Forwarded-For.

    Each trusted proxy appends the address it received the request from, so the client is
    the entry that many places from the right; anything further left is client-supplied.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    return addresses[-min(proxies, len(addresses))]
