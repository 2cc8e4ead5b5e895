"""Reads of the audit trail, scoped to what the caller may see.

Staff with the audit view permission see every event; everyone sees the events where they are the actor; and
the apps that own other scopes add them (projects: owners and admins see their projects' events) through
`register_scope`, so that audit imports no domain app.
"""

from collections.abc import Callable

from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from common.grants import bound_project

Scope = Callable[..., Q]  # scope(user) -> the events this rule lets the user see
SCOPES: list[Scope] = []


def register_scope(scope: Scope) -> None:
    SCOPES.append(scope)


def event_list(*, user) -> QuerySet[AuditEvent]:
    """The events the user may read, newest first."""
    events = AuditEvent.objects.order_by("-created_at", "-id")
    bound = bound_project(user)
    if bound is not None:
        # A project-bound credential (common.grants) sees that project's events only, even a staff user's.
        events = events.filter(project_id=bound)
    elif user.is_active and user.has_perm("audit.view_auditevent"):
        return events
    visible = Q(actor_id=user.pk)
    for scope in SCOPES:
        visible |= scope(user)
    return events.filter(visible)
