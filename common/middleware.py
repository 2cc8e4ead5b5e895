import logging
import re
import time
import uuid

from django.core.signals import request_finished
from django_prometheus.conf import NAMESPACE, PROMETHEUS_LATENCY_BUCKETS
from django_prometheus.middleware import Metrics, PrometheusAfterMiddleware
from django_prometheus.utils import Time, TimeSince
from prometheus_client import Counter, Histogram

from common import logging as log_context
from common import metrics
from common.exceptions import dependency_unavailable_response, server_error_response

logger = logging.getLogger("aiassistant.errors")


class ApiProblemMiddleware:
    """Unhandled exceptions under /api/ answer 500 problem+json (never a stack trace), even with DEBUG on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        unavailable = dependency_unavailable_response(exception)
        if unavailable is not None:
            return unavailable
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return server_error_response()


# --- Observability: request id, request log line, active users -------------------------------------------------

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?P<trace_id>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# Probes and scrapes are frequent and uninteresting: their request lines are DEBUG.
_QUIET_PREFIXES = ("/health/", "/metrics")
request_logger = logging.getLogger("aiassistant.request")


def _forget_request_context(sender=None, **kwargs):
    """After the response is closed (Django's own request lines are written by then), drop the request context."""
    log_context.clear()


request_finished.connect(_forget_request_context, dispatch_uid="common.middleware.forget_request_context")


class RequestContextMiddleware:
    """Request id (X-Request-ID in and out), log context, one request log line, and active-user tracking."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        context = {"request_id": request_id}
        traceparent = _TRACEPARENT.match(request.META.get("HTTP_TRACEPARENT", ""))
        if traceparent:  # without tracing, the caller's trace id still ties our lines to its trace
            context["trace_id"] = traceparent.group("trace_id")
        # A fresh context per request, left in place after it: Django's own "django.request" line is written
        # after the middleware chain returns and must still carry the request id.
        log_context.clear()
        log_context.bind(**context)
        log_context.bind_request(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user_id = log_context.user_id_of(request)
        if user_id is not None:
            log_context.bind(user_id=user_id)
            metrics.user_seen(user_id)
        self._log(request, response.status_code, started, user_id)
        return response

    @staticmethod
    def _log(request, status: int, started: float, user_id: str | None) -> None:
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else None
        level = logging.DEBUG if request.path.startswith(_QUIET_PREFIXES) and status < 500 else logging.INFO
        if not request_logger.isEnabledFor(level):
            return
        request_logger.log(
            level,
            "%s %s %s",
            request.method,
            route or "<unmatched>",
            status,
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user_id,
            },
        )


class RequestMetrics(Metrics):
    """The request series PrometheusMiddleware records, with django-prometheus' names, documentation and buckets.

    Only these are registered (django-prometheus' Metrics registers about twenty, most never written here).
    Responses and latency carry `api_version`: "1" or "2" as negotiated by ApiVersionMiddleware, "" outside
    /api/ (admin, health, metrics). One value per request, so the label adds no series per view beyond the
    negotiated `api:` routes, and no write.
    """

    _instance = None  # get_instance() caches per class: never hand out django-prometheus' full set instead

    def register(self):
        self.requests_by_view_transport_method = self.register_metric(
            Counter,
            "django_http_requests_total_by_view_transport_method",
            "Count of requests by view, transport, method.",
            ["view", "transport", "method"],
            namespace=NAMESPACE,
        )
        self.responses_by_status_view_method = self.register_metric(
            Counter,
            "django_http_responses_total_by_status_view_method",
            "Count of responses by status, view, method.",
            ["status", "view", "method", "api_version"],
            namespace=NAMESPACE,
        )
        self.requests_latency_by_view_method = self.register_metric(
            Histogram,
            "django_http_requests_latency_seconds_by_view_method",
            "Histogram of request processing time labelled by view.",
            ["view", "method", "api_version"],
            buckets=PROMETHEUS_LATENCY_BUCKETS,
            namespace=NAMESPACE,
        )
        self.exceptions_by_type = self.register_metric(
            Counter,
            "django_http_exceptions_total_by_type",
            "Count of exceptions by object type.",
            ["type"],
            namespace=NAMESPACE,
        )
        self.exceptions_by_view = self.register_metric(
            Counter,
            "django_http_exceptions_total_by_view",
            "Count of exceptions by view.",
            ["view"],
            namespace=NAMESPACE,
        )


class PrometheusMiddleware(PrometheusAfterMiddleware):
    """django-prometheus' after-middleware, recording only the request series the dashboards and alerts use.

    Kept (names unchanged, see RequestMetrics): requests by view/transport/method (django-prometheus'
    process_view), responses by status/view/method/api_version, latency by view/method/api_version, exceptions
    by type and view. Left out: the before-middleware totals and latency, by-method, by-transport, AJAX,
    body-size, charset, template and streaming series; in multiprocess mode each update is an mmap write, and
    those were two thirds of them on every request.
    """

    metrics_cls = RequestMetrics

    def process_request(self, request):
        request.prometheus_after_middleware_event = Time()

    def process_template_response(self, request, response):
        return response

    def process_response(self, request, response):
        method = self._method(request)
        view = self._get_view_name(request)
        api_version = getattr(request, "api_version", "")  # set by ApiVersionMiddleware under /api/ only
        self.metrics.responses_by_status_view_method.labels(
            status=str(response.status_code), view=view, method=method, api_version=api_version
        ).inc()
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            self.metrics.requests_latency_by_view_method.labels(
                view=view, method=method, api_version=api_version
            ).observe(TimeSince(started))
        return response

    def process_exception(self, request, exception):
        # No latency here (django-prometheus observes it here and again in process_response, which still runs
        # for the 500 that follows): one observation per request.
        self.metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
        self.metrics.exceptions_by_view.labels(view=self._get_view_name(request)).inc()
