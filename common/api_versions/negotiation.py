"""Which version a request under /api/ speaks, and what every API response says about its version.

ApiVersionMiddleware runs before authentication and the view: the version comes from the path (`/api/v1/...`,
`/api/v2/...`) or, for `/api/<resource>`, from `API-Version: N` or `Accept: application/json; version=N`
(default DEFAULT). An unknown version answers 400; a version past its sunset, or inside a brownout window,
answers 410. Every API response carries `API-Version`, and a deprecated version's responses carry `Deprecation`
(RFC 9745), `Link: <...>; rel="deprecation"` and, once a date is set, `Sunset` (RFC 8594).
"""

import datetime
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from common import api_versions
from common.exceptions import problem_response

API_PREFIX = "/api/"
_PATH_VERSION = re.compile(r"^/api/v(?P<number>\d+)/")
_ACCEPT_VERSION = re.compile(r"(?:^|;)\s*version\s*=\s*\"?(?P<number>[^\s;,\"]+)", re.IGNORECASE)


class UnsupportedVersion(Exception):
    """The client asked for a version that does not exist."""


def requested_version(request) -> str:
    """The version the request asks for; raises UnsupportedVersion for an unknown one."""
    match = _PATH_VERSION.match(request.path_info)
    if match and match["number"] in api_versions.VERSIONS:
        return match["number"]
    value = request.META.get("HTTP_API_VERSION", "").strip()
    if not value:
        for media_range in request.META.get("HTTP_ACCEPT", "").split(","):
            found = _ACCEPT_VERSION.search(media_range.partition(";")[2])
            if found:
                value = found["number"]
                break
    if not value:
        return api_versions.DEFAULT
    if value not in api_versions.VERSIONS:
        raise UnsupportedVersion(value)
    return value


@dataclass(frozen=True)
class Lifecycle:
    """A version's deprecation policy, from the API_V<N>_* settings."""

    deprecated_at: datetime.datetime | None
    sunset_at: datetime.datetime | None
    brownouts: tuple[tuple[datetime.datetime, datetime.datetime], ...]

    @classmethod
    def of(cls, number: str) -> "Lifecycle":
        return cls(
            deprecated_at=getattr(settings, f"API_V{number}_DEPRECATION_DATE", None),
            sunset_at=getattr(settings, f"API_V{number}_SUNSET_DATE", None),
            brownouts=tuple(getattr(settings, f"API_V{number}_BROWNOUTS", ())),
        )

    def retired_because(self, now: datetime.datetime) -> str | None:
        """Why this version no longer answers at `now` (past its sunset, or in a brownout), or None."""
        if self.sunset_at is not None and now >= self.sunset_at:
            return f"it was retired on {self.sunset_at.isoformat()}"
        for start, end in self.brownouts:
            if start <= now < end:
                return f"it is in a scheduled brownout until {end.isoformat()}, before its retirement"
        return None

    def headers(self) -> dict[str, str]:
        found = {}
        if self.deprecated_at is not None:
            found["Deprecation"] = f"@{int(self.deprecated_at.timestamp())}"
            found["Link"] = f'<{settings.API_DEPRECATION_INFO_URL}>; rel="deprecation"'
        if self.sunset_at is not None:
            found["Sunset"] = http_date(self.sunset_at.timestamp())
        return found


class ApiVersionMiddleware:
    """Negotiates the version of /api/ requests (request.api_version) and labels every API response with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            number = requested_version(request)
        except UnsupportedVersion as exc:
            supported = sorted(api_versions.VERSIONS, key=int)
            response = problem_response(
                400,
                f"API version {str(exc)[:20]!r} does not exist; supported versions: {', '.join(supported)}.",
                code="unsupported_api_version",
                supported_versions=supported,
            )
            return self._label(request, response, api_versions.DEFAULT)
        request.api_version = number
        lifecycle = Lifecycle.of(number)
        reason = lifecycle.retired_because(datetime.datetime.now(tz=datetime.UTC))
        if reason is not None:
            latest = api_versions.LATEST
            response = problem_response(
                410,
                f"API v{number} no longer answers: {reason}. "
                f"Use /api/v{latest}/ (see {settings.API_DEPRECATION_INFO_URL}).",
                code="api_version_retired",
                successor=f"/api/v{latest}/",
            )
        else:
            response = self.get_response(request)
        for name, value in lifecycle.headers().items():
            response[name] = value
        return self._label(request, response, number)

    @staticmethod
    def _label(request, response, number: str):
        response["API-Version"] = number
        if not _PATH_VERSION.match(request.path_info):
            patch_vary_headers(response, ("API-Version", "Accept"))
        return response
