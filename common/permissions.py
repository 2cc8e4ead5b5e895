"""DRF permission classes shared by every API view (REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"])."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from common.grants import grant_of

# A view's `token_access`: who besides a JWT session may call it.
ANY = "any"  # every credential, within its scope and project (the default)
UNBOUND = "unbound"  # not a project-bound credential: the view reaches beyond one project (e.g. a data export)
SESSION = "session"  # a JWT session only: managing credentials, the password, the account itself

READ_ONLY = "This token's scope is read: it cannot change anything."
NOT_FOR_BOUND = "A token bound to a project cannot use this endpoint: it reaches beyond that project."
SESSION_ONLY = "This endpoint needs a signed-in session (a JWT access token), not an API or OAuth2 token."


class GrantPermission(BasePermission):
    """Enforces a delegated credential's limits (common.grants) on every view; a session passes untouched.

    In the default permission classes, so that a new view gets it; tests/identity/test_enforcement.py fails for
    a route whose view drops it.
    """

    message = READ_ONLY

    def has_permission(self, request, view) -> bool:
        grant = grant_of(request.user)
        if grant is None:
            return True
        access = getattr(view, "token_access", ANY)
        if isinstance(access, dict):  # {method: access}, e.g. {"delete": SESSION}
            access = access.get(request.method.lower(), ANY)
        if access == SESSION:
            self.message = SESSION_ONLY
            return False
        if access == UNBOUND and grant.project_id is not None:
            self.message = NOT_FOR_BOUND
            return False
        if request.method not in SAFE_METHODS and not grant.writes:
            self.message = READ_ONLY
            return False
        return True
