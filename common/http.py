"""Request helpers shared by throttling, lockout, audit and the metrics allow-list."""

import ipaddress
from functools import lru_cache

from django.conf import settings

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def _address(value: str) -> _Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def is_trusted_proxy(value: str) -> bool:
    """True when `value` is an address inside one of the TRUSTED_PROXIES networks (CIDRs)."""
    address = _address(value)
    return address is not None and any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request) -> str:
    """The client address: REMOTE_ADDR, unless that is a trusted proxy (TRUSTED_PROXIES), then X-Forwarded-For.

    X-Forwarded-For is read right to left, each trusted proxy having appended the address it received the request
    from: the first entry that is not a trusted proxy is the client; everything to its left was written by the
    client and is ignored. A client connecting from an untrusted address gets its own address, whatever it sends.
    An entry that is not an address stops the walk at the last trusted hop (only a proxy could have written it).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(remote):
        return remote
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    client = remote
    for hop in reversed(hops):
        if _address(hop) is None:
            return client
        client = hop
        if not is_trusted_proxy(hop):
            return hop
    return client  # every hop is a trusted proxy: the oldest one
