"""One error shape for the whole API: RFC 9457 problem details (application/problem+json)."""

import contextlib
import functools
import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from common.errors import ApplicationError, Invalid, QuotaExceeded
from common.parsers import RequestTooLarge

PROBLEM_CONTENT_TYPE = "application/problem+json"
logger = logging.getLogger("aiassistant.errors")


def problem(status_code: int, detail: str, *, title: str | None = None, code: str | None = None, **extra) -> dict:
    """Build a problem details body."""
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
    }
    if code:
        body["code"] = code
    body.update(extra)
    return body


def problem_response(status_code: int, detail: str, **kwargs) -> JsonResponse:
    """A plain Django response carrying a problem (for views outside DRF: 404/500 handlers)."""
    return JsonResponse(problem(status_code, detail, **kwargs), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


@functools.cache
def _unavailable_exceptions() -> tuple[type[BaseException], ...]:
    """Errors that mean a dependency (database, cache, broker) is down rather than a bug in the request."""
    from django.db import InterfaceError, OperationalError

    found: list[type[BaseException]] = [OperationalError, InterfaceError]
    with contextlib.suppress(ImportError):
        from django_redis.exceptions import ConnectionInterrupted

        found.append(ConnectionInterrupted)
    with contextlib.suppress(ImportError):
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        found += [RedisConnectionError, RedisTimeoutError]
    with contextlib.suppress(ImportError):
        from kombu.exceptions import OperationalError as BrokerError

        found.append(BrokerError)
    return tuple(found)


def server_error_response() -> JsonResponse:
    """500 problem+json that says nothing of the cause (it is logged, never sent)."""
    return problem_response(500, "An unexpected error occurred; it has been logged.", code="server_error")


def dependency_unavailable_response(exc: BaseException) -> JsonResponse | None:
    """503 problem+json when `exc` says a dependency is unreachable; None for any other error."""
    if not isinstance(exc, _unavailable_exceptions()):
        return None
    logger.error("Dependency unavailable: %s", type(exc).__name__, exc_info=exc)
    response = problem_response(
        503, "A service this request depends on is unavailable; retry shortly.", code="service_unavailable"
    )
    response["Retry-After"] = "5"
    return response


def _flatten(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


def field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as the documented `errors`: each field (or JSON path, `steps.0.id`) with its
    messages (a nested dict, e.g. an object field's own keys, broke the schema before: found by schemathesis)."""
    if isinstance(detail, dict):
        found: dict[str, list[str]] = {}
        for key, value in detail.items():
            found.update(field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        found = {}
        for index, item in enumerate(detail):
            if item:  # DRF lists an empty {} for each valid item of a list
                found.update(field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return found
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def application_error_response(exc: ApplicationError, *, auth_header: str | None = None) -> Response:
    """The problem+json response of one of the project's own errors."""
    headers = {}
    status_code = exc.status
    if status_code == 401:
        # As DRF does for its own 401s: a 401 needs a challenge; a view that has none answers 403.
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        else:
            status_code = 403
    if retry_after := getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, Invalid) and exc.field_errors:
        body = problem(status_code, exc.message, title="Validation failed", code="invalid", errors=exc.field_errors)
    elif isinstance(exc, QuotaExceeded):
        headers["Retry-After"] = str(exc.retry_after_seconds)
        body = problem(status_code, exc.message, code=exc.code, quota=exc.quota)
    else:
        body = problem(status_code, exc.message, code=exc.code)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc, context):
    """DRF exception handler: every error leaves the API as problem+json."""
    if isinstance(exc, ApplicationError):
        view, request = context.get("view"), context.get("request")
        auth_header = view.get_authenticate_header(request) if view is not None and request is not None else None
        set_rollback()
        return application_error_response(exc, auth_header=auth_header)
    if isinstance(exc, RequestDataTooBig):  # request.body over DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))

    if not isinstance(exc, exceptions.APIException):
        unavailable = dependency_unavailable_response(exc)
        if unavailable is not None:
            set_rollback()
        return unavailable  # None: unexpected, Django's handler500 (config.urls) answers with problem+json

    headers = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))

    if isinstance(exc, exceptions.ValidationError):
        body = problem(
            exc.status_code,
            "The request is invalid: see errors.",
            title="Validation failed",
            code="invalid",
            errors=field_errors(exc.detail),
        )
    else:
        codes = exc.get_codes()
        body = problem(exc.status_code, _flatten(exc.detail), code=codes if isinstance(codes, str) else None)

    set_rollback()
    return Response(body, status=exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
