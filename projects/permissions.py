"""Role checks: who may do what inside a project they can already see."""

from rest_framework.exceptions import PermissionDenied

from projects.models import Role


def require_role(role: str | None, minimum: str, action: str) -> None:
    """403 unless `role` is at least `minimum` (non-members never get here: selectors 404 them)."""
    if role is None or not Role.at_least(role, minimum):
        raise PermissionDenied(f"Your role in this project does not allow you to {action}; it needs {minimum}.")
