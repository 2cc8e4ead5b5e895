"""Structured logging: JSON lines (or readable console lines), request/task context and secret redaction.

Settings build LOGGING with `build_logging(...)`. Code that wants fields on every log line of a unit of
work (a request, a Celery task, a workflow execution) calls `bind(execution_id=...)`; the fields live in a
contextvar, so threads and asyncio tasks each see their own.
"""

import contextlib
import contextvars
import datetime
import logging
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from django.utils.functional import SimpleLazyObject, empty
from opentelemetry import trace as _otel_trace
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

# Fields every JSON line carries, in this order (None when unknown).
CONTEXT_FIELDS = ("request_id", "trace_id", "span_id", "user_id")
REDACTED = "[REDACTED]"

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("aiassistant_log_context", default=_EMPTY)
_request: contextvars.ContextVar[Any] = contextvars.ContextVar("aiassistant_log_request", default=None)


# ---------------------------------------------------------------------------------------------------------------
# Context API (used by the request middleware, the Celery signal handlers and the workflow runner)
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


class ContextFilter(logging.Filter):
    """Stamps service, environment, version, the bound context and the trace ids on each record."""

    def __init__(self, service: str = "aiassistant-api", environment: str = "", version: str = "", name: str = ""):
        super().__init__(name)
        self.service = service
        self.environment = environment
        self.version = version

    def filter(self, record: logging.LogRecord) -> bool:
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

# Key names whose values never reach a log line (dict arguments, `extra=`, nested structures).
SENSITIVE_KEY = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|authorization|auth[-_]?header|cookie|"
    r"session[-_]?id|csrf|credential|private[-_]?key|signature|signing[-_]?key|jwt|bearer)",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(
    r"(?P<key>[\w-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|authorization|"
    r"credential|private[-_]?key|signing[-_]?key)[\w-]*)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:bearer\s+|basic\s+)?[^\s\"'&,;})\]]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")

# Settings whose values are secrets: any log line containing one of the values has it replaced.
SECRET_SETTINGS = ("SECRET_KEY", "LLM_API_KEY", "METRICS_TOKEN", "JWT_SIGNING_KEY", "AWS_SECRET_ACCESS_KEY")


_secrets_cache: tuple[str, ...] | None = None


def _forget_secrets(**kwargs) -> None:
    global _secrets_cache
    _secrets_cache = None


def _secret_values() -> tuple[str, ...]:
    """The secret values configured in settings, read once (again after a setting changes, in tests)."""
    global _secrets_cache
    if _secrets_cache is not None:
        return _secrets_cache
    try:
        from django.conf import settings
        from django.core.signals import setting_changed

        if not settings.configured:
            return ()
        values = [getattr(settings, name, "") for name in SECRET_SETTINGS]
        values.append(getattr(settings, "SIMPLE_JWT", {}).get("SIGNING_KEY", ""))
        setting_changed.connect(_forget_secrets, dispatch_uid="common.logging.forget_secrets")
    except Exception:  # noqa: BLE001 - logging must never fail because of settings
        return ()
    # Short values would redact ordinary words; real secrets are long.
    _secrets_cache = tuple(sorted({v for v in values if isinstance(v, str) and len(v) >= 8}, key=len, reverse=True))
    return _secrets_cache


# Cheap first pass: text without any of these cannot match the patterns below (most log lines).
_SUSPECT = re.compile(
    r"bearer|basic|token|eyJ|pass|pwd|secret|key|auth|credential|://[^/\s@]*:[^/\s@]*@", re.IGNORECASE
)


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace secrets that look like credentials in free text."""
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    if not _SUSPECT.search(text):
        return text
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)


def redact_value(value: Any, secrets: tuple[str, ...] = (), depth: int = 0) -> Any:
    """Redact a structure: values under sensitive keys, and credential-looking text anywhere."""
    if depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and SENSITIVE_KEY.search(k) else redact_value(v, secrets, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set):
        return type(value)(redact_value(v, secrets, depth + 1) for v in value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact_text(str(value), secrets)


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Fields set by our own code from values that are never credentials (ContextFilter, the request line).
_TRUSTED_FIELDS = frozenset({"service", "environment", "version", "trace_id", "span_id", "request_id", "user_id"})
_SKIPPED_ATTRS = _STANDARD_ATTRS | _TRUSTED_FIELDS | {"status", "duration_ms", "task_id"}


class RedactionFilter(logging.Filter):
    """Removes passwords, tokens, Authorization headers, API keys and secrets from a record before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secret_values()
        try:
            if isinstance(record.msg, Mapping):
                record.msg = redact_value(record.msg, secrets)
            else:
                args = record.args
                if args:
                    args = redact_value(args, secrets) if isinstance(args, Mapping | tuple) else args
                    record.msg = str(record.msg) % args
                record.msg = redact_text(str(record.msg), secrets)
                record.args = None
        except Exception:  # noqa: BLE001 - a broken format string still must not leak its arguments
            record.msg = redact_text(f"{record.msg!s} (arguments dropped: formatting failed)", secrets)
            record.args = None
        for key, value in list(vars(record).items()):
            if key in _SKIPPED_ATTRS or key.startswith("_"):
                continue
            if key == "request":
                # Django's loggers attach the request object; its repr is the path, which is redacted below.
                record.request = redact_text(repr(value), secrets)
            elif SENSITIVE_KEY.search(key):
                setattr(record, key, REDACTED)
            elif not isinstance(value, int | float | bool) and value is not None:
                setattr(record, key, redact_value(value, secrets))
        if record.exc_info:
            # Exception messages can carry credentials (a failed connection URL): format once, redacted.
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text, secrets)
        return True


# ---------------------------------------------------------------------------------------------------------------
# Formatters and the LOGGING builder
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


def build_logging(*, fmt: str, level: str, service: str, environment: str, version: str) -> dict:
    """The LOGGING dict: one stdout handler, JSON or console lines, context and redaction on every record."""
    if fmt not in ("json", "console"):
        raise SystemExit(f"configuration error: LOG_FORMAT must be 'json' or 'console', not {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {
                "()": "common.logging.ContextFilter",
                "service": service,
                "environment": environment,
                "version": version,
            },
            "redact": {"()": "common.logging.RedactionFilter"},
        },
        "formatters": {
            "json": {"()": "common.logging.JsonFormatter"},
            "console": {"()": "common.logging.ConsoleFormatter"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": fmt,
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # The request middleware writes one line per request with the route; django.server would repeat it.
            "django.server": {"level": "WARNING"},
            "celery": {"level": level},
            # Failing checks are reported by the health endpoints; one traceback per probe would flood the logs.
            "health_check": {"level": "ERROR"},
            # httpx logs every request URL at INFO, query string included: a key passed there would leak.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
