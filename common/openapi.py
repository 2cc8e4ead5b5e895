"""The OpenAPI schema of each API version (drf-spectacular): the version's envelope, and every error an operation
can give, as RFC 9457 problem+json.

The errors are derived from what the operation is (authenticated, throttled, with a body, with an id in its path,
listed with filters), plus what its view declares in `error_statuses` ({action or HTTP method: statuses}) for
rules of its own (409, 412, 422...).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from common import api_versions
from common.exceptions import PROBLEM_CONTENT_TYPE
from common.permissions import ANY, SESSION

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "A stable, machine-readable reason."},
        "errors": {
            "type": "object",
            "description": "Validation failures: each field (or JSON path) with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
META_SCHEMA = {
    "type": "object",
    "required": ["api_version", "request_id"],
    "properties": {
        "api_version": {"type": "string", "example": "2"},
        "request_id": {"type": "string", "nullable": True, "description": "The X-Request-ID of this response."},
    },
}
DESCRIPTIONS = {
    400: "Invalid input (the problem's `errors` name each field).",
    401: "No valid credentials.",
    403: "Authenticated, but not allowed (role, scope).",
    404: "Nothing the caller may see has this id (also what a non-member gets).",
    409: "Conflicts with the resource's current state.",
    410: "This API version is past its sunset, or in a brownout; or the resource expired (a data export).",
    412: "The resource changed since the given ETag.",
    413: "The body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    415: "The body is not JSON.",
    422: "Refused as a whole (e.g. an Idempotency-Key reused with another body).",
    429: "Rate limit or quota exceeded (see Retry-After).",
    503: "A dependency (database, cache, broker) is unavailable; retry shortly.",
}
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="ETags from earlier responses (or `*`): 304 with no body when one matches (weak comparison).",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "The ETag the change is based on (from a GET of this resource in the same API version), or `*`: 412 when "
        "the resource changed since (strong comparison). Without it the change is unconditional."
    ),
)
VALIDATOR_HEADERS = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "Strong validator of this representation (API version, data; common.conditional).",
    },
    "Cache-Control": {"schema": {"type": "string", "example": "private, no-cache"}, "description": "On GETs."},
}
DELEGATED_SCHEMES = {"apiToken", "oauth2"}  # identity.openapi's scheme names


class ApiAutoSchema(AutoSchema):
    """AutoSchema for a versioned API: success bodies in the version's shape, and the error responses."""

    def _token_access(self) -> str:
        """Who besides a session may call this operation (the view's `token_access`, common.permissions)."""
        access = getattr(self.view, "token_access", ANY)
        if isinstance(access, dict):
            access = access.get(self.method.lower(), ANY)
        return access

    def get_auth(self):
        """The view's security requirements; an endpoint that takes a session only does not list the API-token and
        OAuth2 schemes."""
        auth = super().get_auth()
        if self._token_access() == SESSION:
            auth = [requirement for requirement in auth if not set(requirement) & DELEGATED_SCHEMES]
        return auth

    def _operation(self) -> str:
        return getattr(self.view, "action", None) or self.method.lower()

    def _conditional(self) -> bool:
        """This operation's 200 carries an ETag (common.conditional.ConditionalMixin)."""
        return self._operation() in getattr(self.view, "conditional_actions", ())

    def _if_match(self) -> bool:
        return self._operation() in getattr(self.view, "if_match_actions", ())

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._conditional() and self.method.upper() == "GET":
            parameters.append(IF_NONE_MATCH)
        if self._if_match():
            parameters.append(IF_MATCH)
        return parameters

    def _version(self) -> api_versions.ApiVersion:
        return api_versions.get(getattr(self.view.request, "version", None))

    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component.ref

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        paginated = self._is_list_view(serializer) and self._get_paginator() is not None
        # A view that answers with a file of its own (`enveloped = False`: a data export's download) is not wrapped.
        enveloped = self._version().envelope and getattr(self.view, "enveloped", True)
        if enveloped and str(status_code).startswith("2") and not paginated:
            for content in response.get("content", {}).values():
                content["schema"] = {
                    "type": "object",
                    "required": ["data", "meta"],
                    "properties": {"data": content["schema"], "meta": self._component("Meta", META_SCHEMA)},
                }
        return response

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        if self._conditional():
            if "200" in responses:
                responses["200"].setdefault("headers", {}).update(VALIDATOR_HEADERS)
            if self.method.upper() == "GET":
                responses["304"] = {"description": "Not modified: the If-None-Match ETag is current (no body)."}
        problem = {"schema": self._component("Problem", PROBLEM_SCHEMA)}
        for status in sorted(self.error_statuses()):
            responses.setdefault(
                str(status), {"description": DESCRIPTIONS[status], "content": {PROBLEM_CONTENT_TYPE: problem}}
            )
        return responses

    def error_statuses(self) -> set[int]:
        """The error statuses this operation can answer."""
        view, method = self.view, self.method.upper()
        declared = getattr(view, "error_statuses", {})  # {action or method: statuses}, e.g. {"destroy": {409}}
        found = {503, *declared.get(getattr(view, "action", None) or method.lower(), ())}
        if self._version().number == "1":
            found.add(410)  # API_V1_SUNSET_DATE and API_V1_BROWNOUTS
        public = all(isinstance(p, AllowAny) for p in view.get_permissions())
        if not public:
            found.add(401)
            if method in _UNSAFE or self._token_access() != ANY:
                found.add(403)  # a role too low, a read-only token; or a token where a session is needed
        if view.get_throttles():
            found.add(429)
        if method in ("POST", "PUT", "PATCH"):
            found |= {400, 413, 415}
        if self._if_match():
            found.add(412)
        if "{" in self.path:
            found.add(404)
        if method == "GET" and self._is_list_view() and self._get_paginator() is not None:
            found |= {400, 404}  # a filter value that does not parse; a page or cursor that does not exist
        return found
