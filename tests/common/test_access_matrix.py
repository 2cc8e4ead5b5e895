"""BOLA and BFLA (OWASP API1 and API5), generated from the URLconf: every API route with an id in its path, for every
principal kind and every method the route allows.

- A non-member (another user, or a token bound to another project) gets 404 on every method: nothing leaks.
- A viewer (or a read-only token) gets 403 on every write of a project's routes.

The routes are read from django.urls, not listed by hand: a new route with an id fails
`test_every_route_with_an_id_has_its_ids` until ROUTE_IDS says how to build its ids. A principal kind is one entry in
PRINCIPALS (people by role, and personal API tokens: read-only, and bound to another project).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import DataExport
from common.permissions import ANY, SESSION, UNBOUND
from identity.models import ApiToken, OAuthClient
from projects import services as project_services
from projects.models import Role
from tests.conftest import client_for
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    WorkflowFactory,
    api_token,
    oauth_client,
    transform_definition,
)
from workflows.models import Execution

WRITES = ("post", "put", "patch", "delete")
PREFIX = "api/v1/"  # the same views are mounted under /api/v2/ and /api/ (tests/common/test_api_versions.py)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _methods(callback) -> tuple[str, ...]:
    if getattr(callback, "actions", None):  # a DRF viewset's route: {method: action}
        return tuple(sorted(callback.actions))
    view = callback.view_class
    return tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m))


def token_access(route: str, method: str) -> str:
    """What the route's view lets a token do for `method` (common.permissions: ANY, UNBOUND or SESSION)."""
    callback = next(callback for path, callback in _walk(get_resolver().url_patterns) if path == route)
    view = getattr(callback, "cls", None) or callback.view_class
    access = getattr(view, "token_access", ANY)
    return access.get(method, ANY) if isinstance(access, dict) else access


def id_routes() -> dict[str, tuple[str, ...]]:
    """Every API route whose path holds an id (a `<uuid:...>` converter), with its methods."""
    return {
        route: _methods(callback)
        for route, callback in _walk(get_resolver().url_patterns)
        if route.startswith(PREFIX) and "<" in route
    }


@dataclass
class World:
    """One project with a member of each role, its rows, and a second project the principals do not belong to."""

    project: object
    users: dict
    workflow: object
    execution: object
    member: object
    export: object
    other_project: object
    secret: object
    invitation: object
    token: object
    oauth_client: object


@pytest.fixture
def world(db) -> World:
    project = ProjectFactory()
    users = {role: MembershipFactory(project=project, role=role).user for role in Role.values}
    users["outsider"] = UserFactory()
    workflow = WorkflowFactory(project=project)
    execution = Execution.objects.create(workflow=workflow, workflow_version=workflow.versions.get(), input={})
    owner = users[Role.OWNER]
    api_token(owner, "read")
    return World(
        project=project,
        users=users,
        workflow=workflow,
        execution=execution,
        member=project.memberships.get(role=Role.EDITOR),
        export=DataExport.objects.create(user=users[Role.OWNER]),
        other_project=MembershipFactory(user=users[Role.VIEWER], role=Role.OWNER).project,
        secret=project_services.project_secret_create(
            project=project, role=Role.OWNER, name="MATRIX_SECRET", value="matrix-value", actor=owner
        ),
        invitation=project_services.invitation_create(
            project=project, role=Role.OWNER, email="invitee@example.com", new_role=Role.VIEWER, actor=owner
        ),
        token=ApiToken.objects.get(user=owner),
        oauth_client=OAuthClient.objects.get(application__client_id=oauth_client(project, owner)[0]),
    )


# route -> (scope, the ids of the world's rows that its path names). "project": the row belongs to the world's
# project (viewers read, only higher roles write); "user": the row is the owner's own (anyone else: 404).
ROUTE_IDS: dict[str, tuple[str, Callable[[World], dict]]] = {
    "api/v1/auth/me/export/<uuid:pk>/": ("user", lambda w: {"pk": w.export.id}),
    "api/v1/auth/me/export/<uuid:pk>/download/": ("user", lambda w: {"pk": w.export.id}),
    "api/v1/auth/tokens/<uuid:pk>/": ("user", lambda w: {"pk": w.token.id}),
    "api/v1/projects/<uuid:pk>/": ("project", lambda w: {"pk": w.project.id}),
    "api/v1/projects/<uuid:project_pk>/members/": ("project", lambda w: {"project_pk": w.project.id}),
    "api/v1/projects/<uuid:project_pk>/members/<uuid:pk>/": (
        "project",
        lambda w: {"project_pk": w.project.id, "pk": w.member.id},
    ),
    "api/v1/projects/<uuid:project_pk>/workflows/": ("project", lambda w: {"project_pk": w.project.id}),
    "api/v1/projects/<uuid:project_pk>/secrets/": ("project", lambda w: {"project_pk": w.project.id}),
    "api/v1/projects/<uuid:project_pk>/secrets/<str:name>/": (
        "project",
        lambda w: {"project_pk": w.project.id, "name": w.secret.name},
    ),
    "api/v1/projects/<uuid:project_pk>/invitations/": ("project", lambda w: {"project_pk": w.project.id}),
    "api/v1/projects/<uuid:project_pk>/invitations/<uuid:pk>/": (
        "project",
        lambda w: {"project_pk": w.project.id, "pk": w.invitation.id},
    ),
    "api/v1/projects/<uuid:project_pk>/oauth-clients/": ("project", lambda w: {"project_pk": w.project.id}),
    "api/v1/projects/<uuid:project_pk>/oauth-clients/<uuid:pk>/": (
        "project",
        lambda w: {"project_pk": w.project.id, "pk": w.oauth_client.id},
    ),
    "api/v1/workflows/<uuid:pk>/": ("project", lambda w: {"pk": w.workflow.id}),
    "api/v1/workflows/<uuid:workflow_pk>/versions/": ("project", lambda w: {"workflow_pk": w.workflow.id}),
    "api/v1/workflows/<uuid:workflow_pk>/executions/": ("project", lambda w: {"workflow_pk": w.workflow.id}),
    "api/v1/executions/<uuid:pk>/": ("project", lambda w: {"pk": w.execution.id}),
    "api/v1/executions/<uuid:pk>/cancel/": ("project", lambda w: {"pk": w.execution.id}),
}


# A valid body for each write that takes one, so that a 403 is the role's answer and not a 400 for the body (views
# validate before the service checks the role). A new write without an entry sends {} and fails if that is a 400.
BODIES: dict[tuple[str, str], Callable[[World], dict]] = {
    ("api/v1/projects/<uuid:pk>/", "patch"): lambda w: {"name": "Renamed"},
    ("api/v1/projects/<uuid:project_pk>/members/", "post"): lambda w: {"email": w.users["outsider"].email},
    ("api/v1/projects/<uuid:project_pk>/members/<uuid:pk>/", "patch"): lambda w: {"role": Role.ADMIN},
    ("api/v1/projects/<uuid:project_pk>/workflows/", "post"): lambda w: {
        "name": "Matrix",
        "definition": transform_definition(),
    },
    ("api/v1/workflows/<uuid:pk>/", "patch"): lambda w: {"name": "Renamed"},
    ("api/v1/projects/<uuid:project_pk>/secrets/", "post"): lambda w: {"name": "NEW_SECRET", "value": "v"},
    ("api/v1/projects/<uuid:project_pk>/secrets/<str:name>/", "put"): lambda w: {"value": "replaced"},
    ("api/v1/projects/<uuid:project_pk>/invitations/", "post"): lambda w: {"email": "another@example.com"},
    ("api/v1/projects/<uuid:project_pk>/oauth-clients/", "post"): lambda w: {"name": "matrix", "scope": "read"},
    ("api/v1/workflows/<uuid:workflow_pk>/executions/", "post"): lambda w: {"input": {"name": "matrix"}},
}


def url_of(route: str, world: World) -> str:
    path = "/" + route
    for name, value in ROUTE_IDS[route][1](world).items():
        path = re.sub(rf"<\w+:{name}>", str(value), path)
    return path


def token_client(world: World, *, user, scope: str, project=None) -> APIClient:
    """A personal API token made through the API (POST /api/v1/auth/tokens/, issue 12), used as the bearer."""
    body = {"name": "matrix", "scope": scope, **({"project": str(project.id)} if project else {})}
    response = client_for(user).post("/api/v1/auth/tokens/", body, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return client


@dataclass(frozen=True)
class Principal:
    """A kind of caller: how to make its client, and what it must get (None: not this principal's concern)."""

    name: str
    client: Callable[[World], APIClient]
    reads: int | None  # on every GET
    writes: int | None  # on every POST, PUT, PATCH, DELETE of a "project" route
    token: str | None = None  # a personal API token: "owner's" (the owner's own) or "bound" (to another project)


PRINCIPALS = [
    Principal("non-member", lambda w: client_for(w.users["outsider"]), reads=404, writes=404),
    Principal("viewer", lambda w: client_for(w.users[Role.VIEWER]), reads=None, writes=403),
    Principal(
        "read-only token of an owner",
        lambda w: token_client(w, user=w.users[Role.OWNER], scope="read"),
        reads=None,
        writes=403,
        token="owner's",
    ),
    Principal(
        "token bound to another project",
        lambda w: token_client(w, user=w.users[Role.VIEWER], scope="write", project=w.other_project),
        reads=404,
        writes=404,
        token="bound",
    ),
]


def cases() -> list:
    return [
        pytest.param(route, method, principal, id=f"{principal.name}-{method.upper()}-{route}")
        for route, methods in id_routes().items()
        for method in methods
        for principal in PRINCIPALS
    ]


def expected(route: str, method: str, principal: Principal) -> int | None:
    if principal.token:
        access = token_access(route, method)
        if access == SESSION or (access == UNBOUND and principal.token == "bound"):
            return 403  # the view refuses this credential before it looks at any id: nothing leaks
    if ROUTE_IDS[route][0] == "user":
        # Another person's own rows (an export, a token) do not exist for anyone but their owner; the owner's own
        # token reading them is not this matrix' concern.
        return None if principal.token == "owner's" else 404
    return principal.reads if method == "get" else principal.writes


def test_every_route_with_an_id_has_its_ids():
    missing = sorted(set(id_routes()) - set(ROUTE_IDS))
    assert not missing, f"routes with ids but no entry in ROUTE_IDS (say how to build their ids): {missing}"
    assert not sorted(set(ROUTE_IDS) - set(id_routes())), "ROUTE_IDS lists routes the URLconf no longer has"


def test_the_matrix_covers_every_route_and_principal():
    params = list(cases())
    assert {p.values[0] for p in params} == set(id_routes())
    assert {p.values[2].name for p in params} == {p.name for p in PRINCIPALS}


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "principal"), cases())
def test_access(world, route, method, principal):
    status = expected(route, method, principal)
    client = principal.client(world)
    body = BODIES.get((route, method), lambda w: {})(world)
    response = getattr(client, method)(url_of(route, world), body, format="json")
    if status is None:
        # Not this principal's concern (a viewer reading): never a server error, never a leak to a non-member.
        assert response.status_code < 500, response.content
    else:
        assert response.status_code == status, (response.status_code, response.content)
