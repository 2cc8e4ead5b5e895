"""Structured logging: JSON lines (or readable console lines), request/task context and secret redaction.

config/settings/base.py's LOGGING names the formatter (`formatter_from_settings`, JSON or console by LOG_FORMAT)
and the filters defined here. Code that wants fields on every log line of a unit of work (a request, a Celery task)
calls `bind(request_id=...)`; the fields live in a contextvar, so threads and asyncio tasks each see their own
(the runner's step threads run in a copy of the task's context).
"""

import contextlib
import contextvars
import datetime
import logging
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from django.utils.functional import SimpleLazyObject, empty
from opentelemetry import trace as _otel_trace
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from common import redaction

# Fields every JSON line carries, in this order (None when unknown).
CONTEXT_FIELDS = ("request_id", "trace_id", "span_id", "user_id")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("aiassistant_log_context", default=_EMPTY)
_request: contextvars.ContextVar[Any] = contextvars.ContextVar("aiassistant_log_request", default=None)


# ---------------------------------------------------------------------------------------------------------------
# Context API (used by the request middleware and the Celery signal handlers)
# ---------------------------------------------------------------------------------------------------------------


def bind(**fields: Any) -> contextvars.Token:
    """Add fields to every log line of the current context; returns a token for `reset()`."""
    return _context.set({**_context.get(), **fields})


def reset(token: contextvars.Token) -> None:
    """Restore the context as it was before the `bind()` that returned the token."""
    _context.reset(token)


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """`with bound(execution_id=...):` binds fields for the block only."""
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def get_context() -> dict[str, Any]:
    """A copy of the fields bound in the current context."""
    return dict(_context.get())


def clear() -> None:
    """Forget every bound field and the current request (start of a request or a Celery task)."""
    _context.set(_EMPTY)
    _request.set(None)


def bind_request(request) -> None:
    """Start a request's context: lines written while it runs get its user id once authentication ran."""
    _request.set(request)


def user_id_of(request) -> str | None:
    """The user's id if authentication already ran (session or DRF/JWT); never triggers a lookup itself."""
    user = request.__dict__.get("user") if request is not None else None
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:  # session user not loaded: don't load it
        return None
    return str(user.pk) if getattr(user, "is_authenticated", False) else None


def _current_span_ids() -> tuple[str | None, str | None]:
    """Trace and span ids of the active OpenTelemetry span (None, None without one)."""
    span_context = _otel_trace.get_current_span().get_span_context()
    if span_context.is_valid:
        return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
    return None, None


def current_ids() -> tuple[str | None, str | None]:
    """(request_id, trace_id) of the current unit of work: the active span's trace, else the caller's."""
    context = _context.get()
    trace_id, _ = _current_span_ids()
    return context.get("request_id"), trace_id or context.get("trace_id")


class ContextFilter(logging.Filter):
    """Stamps service, environment, version, the bound context and the trace ids on each record.

    Without arguments, service, environment and version come from Django's settings at the first record
    (gunicorn's master, which has no Django settings, passes them).
    """

    def __init__(
        self, service: str | None = None, environment: str | None = None, version: str | None = None, name: str = ""
    ):
        super().__init__(name)
        self.service = service
        self.environment = environment
        self.version = version

    def _from_settings(self) -> None:
        from django.conf import settings

        self.service = settings.SERVICE_NAME
        self.environment = settings.ENVIRONMENT
        self.version = settings.APP_VERSION

    def filter(self, record: logging.LogRecord) -> bool:
        if self.service is None:
            self._from_settings()
        record.service = self.service
        record.environment = self.environment
        record.version = self.version
        context = _context.get()
        for key, value in context.items():
            if not hasattr(record, key) or getattr(record, key) is None:
                setattr(record, key, value)
        trace_id, span_id = _current_span_ids()
        record.trace_id = trace_id or getattr(record, "trace_id", None) or context.get("trace_id")
        record.span_id = span_id or getattr(record, "span_id", None)
        if getattr(record, "user_id", None) is None:
            record.user_id = user_id_of(_request.get())
        if not hasattr(record, "request_id"):
            record.request_id = None
        return True


# ---------------------------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------------------------

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Fields set by our own code from values that are never credentials (ContextFilter, the request line).
_TRUSTED_FIELDS = frozenset({"service", "environment", "version", "trace_id", "span_id", "request_id", "user_id"})
_SKIPPED_ATTRS = _STANDARD_ATTRS | _TRUSTED_FIELDS | {"status", "duration_ms", "task_id"}


class RedactionFilter(logging.Filter):
    """Removes passwords, tokens, Authorization headers, API keys and secrets from a record before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = redaction.for_logs()
        try:
            if isinstance(record.msg, Mapping):
                record.msg = redactor.value(record.msg)
            else:
                args = record.args
                if args:
                    args = redactor.value(args) if isinstance(args, Mapping | tuple) else args
                    record.msg = str(record.msg) % args
                record.msg = redactor.text(str(record.msg))
                record.args = None
        except Exception:  # a broken format string still must not leak its arguments
            record.msg = redactor.text(f"{record.msg!s} (arguments dropped: formatting failed)")
            record.args = None
        for key, value in list(vars(record).items()):
            if key in _SKIPPED_ATTRS or key.startswith("_"):
                continue
            if key == "request":
                # Django's loggers attach the request object; its repr is the path, which is redacted below.
                record.request = redactor.text(repr(value))
            elif redaction.is_credential_name(key):
                setattr(record, key, redaction.MARKER)
            elif not isinstance(value, int | float | bool) and value is not None:
                setattr(record, key, redactor.value(value))
        if record.exc_info:
            # Exception messages can carry credentials (a failed connection URL): format once, redacted.
            record.exc_text = redactor.text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redactor.text(record.exc_text)
        return True


# ---------------------------------------------------------------------------------------------------------------
# Formatters
# ---------------------------------------------------------------------------------------------------------------


def _utc_timestamp(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line with a fixed head (timestamp, level, logger, message, service, ...)."""

    HEAD = ("service", "environment", "version", *CONTEXT_FIELDS)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["timestamp"] = _utc_timestamp(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        for key in self.HEAD:
            log_data[key] = getattr(record, key, None)
        for key, value in vars(record).items():
            if key not in self.reserved_attrs and key not in log_data and not key.startswith("_"):
                log_data[key] = value
        log_data.update(message_dict)


class ConsoleFormatter(logging.Formatter):
    """Readable single lines for a developer's terminal, with the request id when there is one."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request_id={request_id}]" if request_id else line


def formatter_from_settings() -> logging.Formatter:
    """The formatter LOG_FORMAT names ("json" or "console"); called by logging.config when Django starts."""
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        return JsonFormatter()
    if settings.LOG_FORMAT == "console":
        return ConsoleFormatter()
    raise SystemExit(f"configuration error: LOG_FORMAT must be 'json' or 'console', not {settings.LOG_FORMAT!r}")
