"""The token rules are central: every API view applies GrantPermission, and every token-accepting view accepts
only our authentication classes, so that a new route cannot escape a token's scope or project."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from common.permissions import GrantPermission
from identity.authentication import ApiTokenAuthentication, OAuthClientAuthentication


def _views(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            cls = getattr(pattern.callback, "cls", None)
            if cls is not None and issubclass(cls, APIView):
                yield prefix + str(pattern.pattern), cls, getattr(pattern.callback, "initkwargs", {})


API_VIEWS = sorted(
    {(route, cls) for route, cls, _ in _views(get_resolver()) if route.startswith("api/v1/")},
    key=lambda item: item[0],
)


def test_the_walk_finds_the_token_routes():
    routes = {route for route, _ in API_VIEWS}
    assert "api/v1/auth/tokens/" in routes
    assert "api/v1/projects/<uuid:project_pk>/oauth-clients/" in routes
    assert len(routes) > 20


@pytest.mark.parametrize(("route", "view"), API_VIEWS, ids=[route for route, _ in API_VIEWS])
def test_every_view_that_takes_tokens_enforces_their_grant(route, view):
    instance = view()
    authenticators = [type(a) for a in instance.get_authenticators()]
    permissions = instance.get_permissions()
    if not authenticators or all(isinstance(p, AllowAny) for p in permissions):
        return  # public (register, login, the schema and docs): anyone may call it, a grant adds nothing
    assert any(isinstance(p, GrantPermission) for p in permissions), route
    # Whichever classes a view lists, ours come first, so an aia_/aio_ value never reaches another one.
    assert authenticators[:2] == [ApiTokenAuthentication, OAuthClientAuthentication], route
