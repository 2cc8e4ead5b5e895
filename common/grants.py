"""What a delegated credential (a personal API token, an OAuth2 client's access token) lets its holder do.

The authentication classes (identity.authentication) attach a `Grant` to the user they authenticate; everything
downstream reads it from the user they are handed, so no view can forget it:
- `common.permissions.GrantPermission` (a default permission class): a `read` grant is refused every unsafe
  method, and views that say so (`token_access`) refuse tokens altogether or project-bound ones;
- `projects.selectors` (the one place project membership is read) narrows what a project-bound grant sees to its
  project, so every route under a project answers 404 for the others and lists hold only that project;
- services that create something outside any project (a project) refuse a project-bound grant.

A user without a grant (a JWT session, the admin, a Celery task) is not narrowed. A Grant lives on the user
instance the authentication loaded for this one request, never on a shared object.
"""

from dataclasses import dataclass
from uuid import UUID

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)
API_TOKEN_PREFIX = "aia_"  # noqa: S105  (a public marker, not a secret): personal API tokens
OAUTH_TOKEN_PREFIX = "aio_"  # noqa: S105  (a public marker): OAuth2 access tokens from /o/token/
DELEGATED_PREFIXES = (API_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX)

_ATTRIBUTE = "_delegated_grant"


@dataclass(frozen=True)
class Grant:
    """A credential's limits: `scope` (read or write) and the one project it is bound to (None: all of the user's)."""

    kind: str  # "api_token" or "oauth2"
    scope: str
    project_id: UUID | None
    credential_id: str

    @property
    def writes(self) -> bool:
        return self.scope == WRITE


def bind(user, grant: Grant) -> None:
    """Attach `grant` to the user instance of one request (called by the authentication classes only)."""
    setattr(user, _ATTRIBUTE, grant)


def grant_of(user) -> Grant | None:
    """The grant the user acts under in this request, or None for a full session."""
    return getattr(user, _ATTRIBUTE, None)


def bound_project(user) -> UUID | None:
    """The project a project-bound credential is limited to, or None."""
    grant = grant_of(user)
    return grant.project_id if grant is not None else None
