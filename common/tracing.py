"""OpenTelemetry tracing: Django, psycopg, Celery and httpx spans, exported over OTLP/HTTP.

`setup_tracing()` is called by wsgi.py/asgi.py, gunicorn's post_fork and the Celery worker's process init,
never at settings import. Without OTEL_EXPORTER_OTLP_ENDPOINT it does nothing: no TracerProvider, no
instrumentation, so the request path carries no tracing code at all.
"""

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_provider = None
_instrumentors: list = []
_otlp_installed = False


def tracing_configured() -> bool:
    """True when spans should be exported (an OTLP endpoint is set and observability is on)."""
    return bool(settings.OTEL_EXPORTER_OTLP_ENDPOINT) and settings.OBSERVABILITY_ENABLED


def setup_tracing(*, exporter=None, simple: bool = False) -> bool:
    """Install the tracer provider and the instrumentations once per process; True when tracing is on.

    `exporter` replaces the OTLP exporter (tests pass an InMemorySpanExporter); `simple` exports each span
    as it ends instead of batching (tests).
    """
    global _provider, _otlp_installed
    if exporter is None and not tracing_configured():
        return False
    with _lock:
        if exporter is None and _otlp_installed:
            return True  # once per process (wsgi.py and post_fork may both call it)
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        if _provider is None:
            resource = Resource.create(
                {
                    "service.name": settings.OTEL_SERVICE_NAME,
                    "service.version": settings.APP_VERSION,
                    "deployment.environment": settings.ENVIRONMENT,
                }
            )
            _provider = TracerProvider(resource=resource)
            trace.set_tracer_provider(_provider)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/")
            exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
            _otlp_installed = True
        _provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
        if not _instrumentors:
            _instrument()
    logger.info("Tracing enabled (service %s)", settings.OTEL_SERVICE_NAME)
    return True


def _instrument() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor

    excluded = "health/,metrics"  # probes and scrapes are not worth a trace each
    for instrumentor, options in (
        (DjangoInstrumentor(), {"excluded_urls": excluded}),
        (PsycopgInstrumentor(), {"enable_commenter": False}),
        (CeleryInstrumentor(), {}),
        (HTTPXClientInstrumentor(), {}),
        # Workflow steps run in a thread pool: the span context follows ThreadPoolExecutor.submit.
        (ThreadingInstrumentor(), {}),
    ):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**options)
        _instrumentors.append(instrumentor)


def shutdown_tracing() -> None:
    """Remove the instrumentations and flush spans (tests; a process exit flushes by itself)."""
    global _provider
    with _lock:
        for instrumentor in _instrumentors:
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
        _instrumentors.clear()
        if _provider is not None:
            _provider.force_flush()
            # The global provider cannot be replaced; its processors are dropped so that no span is exported.
            _provider._active_span_processor._span_processors = ()
