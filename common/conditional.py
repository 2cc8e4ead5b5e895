"""HTTP validators for API reads and writes (RFC 9110 §8.8 and §13): ETag, If-None-Match, If-Match.

How an ETag is derived: a strong tag, the first 32 hex digits of sha256 over the API version, the resource name and
the response data as the serializer (or paginator) gives it, before the version's envelope. So it changes with every
change of what the body says (any field, the caller's `role` in a project, a list's page) and differs between
/api/v1 and /api/v2; two callers who are shown the same data share it, as they share the representation. The
envelope's `meta.request_id` differs per response and is left out: it says which response this is, not what the
resource is (docs/api-versioning.md, "Conditional requests").

`ConditionalMixin` does it for a view: every GET (and HEAD) of `conditional_actions` carries `ETag` and
`Cache-Control: private, no-cache`, and answers 304 with no body when `If-None-Match` matches (weak comparison;
`*` matches any current representation). A write checks `If-Match` (strong comparison) through `if_match()`: a
predicate its service evaluates on the locked row, so the check and the update are one transaction.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.utils.http import parse_etags
from rest_framework import status
from rest_framework.utils.encoders import JSONEncoder

from common.api_versions.drf import resource_of

CACHE_CONTROL = "private, no-cache"
_SAFE = ("GET", "HEAD")


def representation_etag(data: Any, *, version: str | None, resource: str | None) -> str:
    """The strong ETag of `data` (a serializer's or paginator's output) as API `version` shows it."""
    canonical = json.dumps(
        {"version": version, "resource": resource, "data": data}, cls=JSONEncoder, sort_keys=True, ensure_ascii=False
    )
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")


def none_match(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header lets the request through (False: answer 304). Weak comparison."""
    if header is None:
        return True
    tags = parse_etags(header)
    if "*" in tags:
        return False
    return _opaque(etag) not in {_opaque(tag) for tag in tags}


def match(tags: list[str], etag: str) -> bool:
    """Whether If-Match's parsed `tags` hold for the current `etag`. Strong comparison: a weak tag never matches."""
    if "*" in tags:
        return True
    return any(tag == etag and not tag.startswith("W/") for tag in tags)


class ConditionalMixin:
    """ETag and Cache-Control on a view's reads, 304 on a matching If-None-Match, and If-Match for its writes.

    `conditional_actions`: the viewset actions (or, for an APIView, the lower-case methods) whose 200s carry an
    ETag; a GET among them also gets `Cache-Control: private, no-cache`. `has_validator(response)` may refuse a
    particular response (an execution still running gets none: its state changes under the client).
    """

    conditional_actions: frozenset[str] = frozenset({"retrieve"})
    if_match_actions: frozenset[str] = frozenset()

    def _operation(self, request) -> str:
        return getattr(self, "action", None) or request.method.lower()

    def has_validator(self, response) -> bool:
        return True

    def etag_of(self, data: Any) -> str:
        request = self.request  # type: ignore[attr-defined]
        return representation_etag(data, version=request.version, resource=resource_of(self))

    def if_match(self, request) -> Callable[[Any], bool] | None:
        """For a write: None without If-Match; else a predicate of the current (locked) object, True when the
        header matches its representation's ETag. The service evaluates it under the row lock."""
        header = request.headers.get("If-Match")
        if header is None:
            return None
        tags = parse_etags(header)
        serializer_class = self.serializer_class  # type: ignore[attr-defined]
        return lambda instance: match(tags, self.etag_of(serializer_class(instance).data))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if response.status_code != status.HTTP_200_OK or self._operation(request) not in self.conditional_actions:
            return response
        if request.method in _SAFE:
            response["Cache-Control"] = CACHE_CONTROL
        if not self.has_validator(response):
            return response
        etag = self.etag_of(response.data)
        response["ETag"] = etag
        if request.method in _SAFE and not none_match(request.headers.get("If-None-Match"), etag):
            response.status_code = status.HTTP_304_NOT_MODIFIED
            response.data = None  # a 304 has no body; its headers (ETag, Cache-Control) stay
        return response
