"""GET /metrics for Prometheus: a bearer token or an allowed client address, nothing else."""

import hmac
import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from common.http import client_ip
from common.metrics import ActiveUsersCollector, CeleryQueueCollector, MigrationsCollector

logger = logging.getLogger(__name__)

# Computed at scrape time in the process that answers (never per worker, so never summed twice).
BUILTIN_COLLECTORS = (ActiveUsersCollector, CeleryQueueCollector, MigrationsCollector)


def bearer_token_valid(request) -> bool:
    """True when the request carries `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time)."""
    return bearer_header_valid(request.headers.get("Authorization", ""))


def bearer_header_valid(header: str) -> bool:
    """True when an Authorization header value is `Bearer <METRICS_TOKEN>` (the web's /metrics and the workers')."""
    expected = settings.METRICS_TOKEN
    scheme, _, token = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def client_ip_allowed(request) -> bool:
    """True when the client address (common.http.client_ip) is in METRICS_ALLOWED_IPS (CIDRs)."""
    return address_allowed(client_ip(request))


def address_allowed(value: str) -> bool:
    """True when `value` is an address in METRICS_ALLOWED_IPS (CIDRs)."""
    cidrs = tuple(settings.METRICS_ALLOWED_IPS)
    if not cidrs:
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in network for network in _networks(cidrs))


class _Guarded:
    """Wraps a collector so that one failing collector costs its own series, not the whole scrape."""

    def __init__(self, collector):
        self.collector = collector

    def collect(self):
        try:
            return list(self.collector.collect())
        except Exception:
            logger.warning("Metrics collector %r failed", self.collector, exc_info=True)
            return []


@lru_cache(maxsize=4)
def _extra_registry(paths: tuple[str, ...]) -> CollectorRegistry:
    """Built-in collectors plus METRICS_EXTRA_COLLECTORS; a path that cannot be imported is skipped (warning)."""
    registry = CollectorRegistry(auto_describe=False)
    collectors = [cls() for cls in BUILTIN_COLLECTORS]
    for path in paths:
        try:
            found = import_string(path)
        except ImportError:
            logger.warning("METRICS_EXTRA_COLLECTORS: cannot import %s; skipped", path)
            continue
        collectors.append(found() if isinstance(found, type) else found)
    for collector in collectors:
        registry.register(_Guarded(collector))
    return registry


def render_metrics() -> bytes:
    """The exposition text: every worker's metrics (multiprocess mode) or this process', plus the collectors."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        output = generate_latest(registry)
    else:
        output = generate_latest(REGISTRY)
    extra = _extra_registry(tuple(settings.METRICS_EXTRA_COLLECTORS))
    return output + generate_latest(extra)


@require_GET
def metrics_view(request):
    """Prometheus scrape endpoint. 401: no or wrong token; 403: no token and the address is not allowed."""
    if not (bearer_token_valid(request) or client_ip_allowed(request)):
        if request.headers.get("Authorization") or not settings.METRICS_ALLOWED_IPS:
            response = JsonResponse({"detail": "A valid metrics token is required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return JsonResponse({"detail": "This address may not read metrics."}, status=403)
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
