"""The audit context of every request under /api/ and /admin/, and the event of each state-changing one.

One event per POST, PUT, PATCH or DELETE, whatever its status: the method and route template
("PATCH /api/v1/projects/{id}/", never the raw path), the resource, its project, the status, and the changes of
the models it wrote. A 403, or a 404 that hides an existing project from a non-member, is also a
`permission` event, whatever the method.
"""

import re

from audit import context, recording
from common.api_versions.drf import resource_of
from common.http import client_ip

# /oidc/: the SSO sign-in (accounts.sso) records its events with the address and user agent of the request.
AUDITED_PREFIXES = ("/api/", "/admin/", "/oidc/")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_ADMIN_URL_NAME = re.compile(r"^(?P<app>[a-z0-9_]+?)_(?P<model>[a-z0-9]+)_(?:changelist|change|add|delete|history)$")


def _parameter(name: str) -> str:
    """A route parameter as API docs name it: pk -> {id}, project_pk -> {project_id}."""
    if name in ("pk", "object_id"):
        return "{id}"
    if name.endswith("_pk"):
        return "{" + name.removesuffix("_pk") + "_id}"
    return "{" + name + "}"


def route_template(match) -> str | None:
    """`api/v1/projects/<uuid:pk>/` -> `/api/v1/projects/{id}/`; None for a path no route matched."""
    route = getattr(match, "route", None)
    if not route or "^" in route or "(" in route:
        return None
    return "/" + _CONVERTER.sub(lambda m: _parameter(m.group(1)), route)


def _resource(match) -> str:
    view = getattr(getattr(match, "func", None), "cls", None)
    resource = resource_of(view) if view is not None else None
    if resource:
        return resource
    admin = _ADMIN_URL_NAME.match(getattr(match, "url_name", None) or "")
    return admin["model"] if admin else (getattr(match, "url_name", None) or "")


def _response_value(response, key: str):
    data = getattr(response, "data", None)
    return data.get(key) if isinstance(data, dict) else None


class AuditMiddleware:
    """Sets the audit context (actor resolved at write time, address, user agent) and writes request events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(AUDITED_PREFIXES):
            return self.get_response(request)
        with context.unit(
            request=request, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
        ) as work:
            response = self.get_response(request)
            state_changing = request.method in STATE_CHANGING
            denied = response.status_code == 403 or (response.status_code == 404 and work.hidden_from)
            if state_changing or denied:
                self._record(request, response, work, state_changing=state_changing, denied=bool(denied))
        return response

    @staticmethod
    def _record(request, response, work: context.Unit, *, state_changing: bool, denied: bool) -> None:
        match = getattr(request, "resolver_match", None)
        kwargs = getattr(match, "kwargs", None) or {}
        resource_type = _resource(match) if match is not None else ""
        resource_id = kwargs.get("pk") or kwargs.get("object_id") or _response_value(response, "id") or ""
        project_id = (
            kwargs.get("project_pk")
            or (resource_id if resource_type == "project" else None)
            or _response_value(response, "project")
            or work.project_id
        )
        route = route_template(match) if match is not None else None
        action = f"{request.method} {route or '<unmatched>'}"
        if state_changing:
            recording.record_request(
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                project_id=project_id,
                status_code=response.status_code,
            )
        if denied:
            recording.record_denial(
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                project_id=project_id,
                status_code=response.status_code,
                hidden=work.hidden_from,
            )
