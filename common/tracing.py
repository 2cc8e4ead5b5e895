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
        exporter = RedactingExporter(exporter)
        _provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
        if not _instrumentors:
            _instrument()
    logger.info("Tracing enabled (service %s)", settings.OTEL_SERVICE_NAME)
    return True


class RedactingExporter:
    """Hands spans to the real exporter with known secret values (settings, Vault, the project secrets this
    process decrypted) replaced in their attributes and events: an http step's URL may carry one."""

    def __init__(self, inner):
        self.inner = inner

    def export(self, spans):
        from common import redaction

        redactor = redaction.for_traces()
        return self.inner.export([_redacted(span, redactor) for span in spans])

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def __getattr__(self, name):  # what tests read from an in-memory exporter (get_finished_spans, clear)
        return getattr(self.inner, name)


def _redact_attributes(attributes, redactor):
    if not attributes:
        return attributes, False
    clean = {}
    for key, value in attributes.items():
        if isinstance(value, str):
            clean[key] = redactor.text(value)
        elif isinstance(value, list | tuple) and any(isinstance(item, str) for item in value):
            clean[key] = tuple(redactor.text(item) if isinstance(item, str) else item for item in value)
        else:
            clean[key] = value
    return clean, clean != dict(attributes)


def _redacted(span, redactor):
    if not redactor.secrets:
        return span
    from opentelemetry.sdk.trace import Event, ReadableSpan

    attributes, changed = _redact_attributes(span.attributes, redactor)
    events = []
    for event in span.events:
        event_attributes, event_changed = _redact_attributes(event.attributes, redactor)
        changed = changed or event_changed
        events.append(Event(event.name, event_attributes, event.timestamp) if event_changed else event)
    if not changed:
        return span
    return ReadableSpan(
        name=redactor.text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


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
