"""SSRF guard for outbound HTTP from workflow steps (OWASP API7).

A host is resolved once; every resolved address must be public unless the host is allow-listed in
``settings.WORKFLOW_HTTP_ALLOWED_HOSTS``; the connection then goes to a vetted address (pinned: no second DNS
lookup, so no DNS rebinding) while the request keeps the original Host header and TLS server name.
Callers follow redirects themselves and vet every hop.
"""

import ipaddress
import socket
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix, embeds an IPv4 address


class RefusedAddress(Exception):
    """The destination is not allowed; the message says why (safe to store)."""


class ResolutionError(Exception):
    """The host name could not be resolved; ``transient`` when trying again later may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class VettedTarget:
    """A host and port with the addresses it resolved to, all of them checked (or the host allow-listed)."""

    host: str
    port: int
    addresses: tuple[str, ...]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_problem(address: str) -> str | None:
    """Why a connection to this IP address must be refused, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            problem = address_problem(str(embedded))
            return f"{ip} embeds {embedded}, and {problem}" if problem else None
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip in SHARED_ADDRESS_SPACE, "a shared (carrier-grade NAT) address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a globally routable address"),
    )
    for matches, what in checks:
        if matches:
            return f"{ip} is {what}"
    return None


def is_allowed_host(host: str, port: int) -> bool:
    """Whether the host (exact name, or name:port) is exempt from the address checks."""
    allowed = {entry.strip().lower() for entry in settings.WORKFLOW_HTTP_ALLOWED_HOSTS}
    host = host.lower()
    with_port = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host in allowed or with_port in allowed


def resolve(host: str, port: int) -> VettedTarget:
    """Resolve once and vet every address; raise RefusedAddress or ResolutionError."""
    host = host.lower().strip("[]")
    if not host:
        raise RefusedAddress("refused: the URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        transient = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
        raise ResolutionError(f"could not resolve host {host!r}", transient=transient) from None
    except UnicodeError:
        raise RefusedAddress(f"refused: {host!r} is not a valid host name") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))  # unique, resolver order
    if not addresses:
        raise ResolutionError(f"could not resolve host {host!r}", transient=True)
    if not is_allowed_host(host, port):
        for address in addresses:
            problem = address_problem(address)
            if problem:
                shown = problem if address == host else f"{host} resolves to {problem}"
                raise RefusedAddress(f"refused: {shown}")
    return VettedTarget(host=host, port=port, addresses=addresses)


class _PinnedBackend(httpcore.SyncBackend):
    """Connects only to the vetted addresses of one target, whatever name the connection pool asks for."""

    def __init__(self, target: VettedTarget):
        self.target = target

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if host.lower().strip("[]") != self.target.host or port != self.target.port:
            # Defensive: the client is built for one target; anything else would bypass the guard.
            raise httpcore.ConnectError(f"refused: connection to {host}:{port} was not vetted")
        last_error: Exception | None = None
        for address in self.target.addresses:
            try:
                return super().connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError("no address to connect to")


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose TCP connections go to a VettedTarget's addresses.

    TLS still uses the URL's host name for SNI and certificate checks (httpcore takes them from the request
    URL, not from the address connected to), and the Host header is the URL's. No proxies, no HTTP/2.
    """

    def __init__(self, target: VettedTarget):
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            network_backend=_PinnedBackend(target),
        )
