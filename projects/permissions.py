"""Role checks: who may do what inside a project they can already see."""

from common.errors import PermissionDenied
from projects.models import Role

# What the Django admin passes to services in place of a project role: the admin checks its own model
# permissions (staff users need not be project members), so project role rules do not apply to it.
OPERATOR = "operator"


def require_role(role: str | None, minimum: str, action: str) -> None:
    """403 unless `role` is at least `minimum` (non-members never get here: selectors 404 them)."""
    if role == OPERATOR:
        return
    if role is None or not Role.at_least(role, minimum):
        raise PermissionDenied(f"Your role in this project does not allow you to {action}; it needs {minimum}.")
