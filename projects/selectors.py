"""Project reads, always scoped to the projects the user belongs to."""

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet

from audit.recording import note_hidden
from common.errors import NotFound
from common.grants import bound_project
from projects.models import SECRET_NAME, Invitation, Membership, Project, ProjectSecret, Role
from projects.permissions import require_role


def hidden(model, object_id) -> None:
    """A 404 for an object that exists is a permission fact (a non-member probing), for the audit trail."""
    try:
        exists = model.objects.filter(pk=object_id).exists()
    except (ValueError, ValidationError):
        return
    if exists:
        note_hidden(model._meta.model_name)


def member_rows(queryset: QuerySet, *, user, project_ref: str = "") -> QuerySet:
    """`queryset`'s rows under a project the user is a member of, each annotated with the user's `role` there
    (`project_ref`: the path from the rows to their project, "" for projects).

    The one place membership scoping is written: a project-bound credential (common.grants) is narrowed here to
    its project, so every selector built on it answers 404 for the others and lists only that project. The role
    is read from the membership row that this filter joins (one per project and user: a unique pair), in the same
    call, so no query has a role without the scoping. A correlated subquery gave the same roles from a statement
    that cost more to build and compile: 1.29 against 1.06 ms for the project list's, 1.70 against 0.98 ms for
    workflow_get's (bench/README.md, issue 13 goals 1 and 2).
    """
    path = f"{project_ref}__" if project_ref else ""
    condition = Q(**{f"{path}memberships__user": user})
    bound = bound_project(user)
    if bound is not None:
        condition &= Q(**{f"{path}pk": bound})
    return queryset.filter(condition).annotate(role=F(f"{path}memberships__role"))


def project_list(*, user) -> QuerySet[Project]:
    """The user's projects, each annotated with the user's `role`."""
    return member_rows(Project.objects.all(), user=user)


def project_get(*, user, project_id) -> Project:
    """One of the user's projects with `role`; 404 for anyone else (no existence leak)."""
    try:
        return project_list(user=user).get(pk=project_id)
    except (Project.DoesNotExist, ValueError) as exc:
        hidden(Project, project_id)
        raise NotFound from exc


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user")


def membership_get(*, project: Project, membership_id) -> Membership:
    try:
        return membership_list(project=project).get(pk=membership_id)
    except (Membership.DoesNotExist, ValueError) as exc:
        raise NotFound from exc


def invitation_list(*, project: Project, role: str | None) -> QuerySet[Invitation]:
    """The project's invitations, for its admins and owners (they hold addresses of people who are not members)."""
    require_role(role, Role.ADMIN, "see the invitations")
    return Invitation.objects.filter(project=project).select_related("invited_by")


def invitation_get(*, project: Project, role: str | None, invitation_id) -> Invitation:
    try:
        return invitation_list(project=project, role=role).get(pk=invitation_id)
    except (Invitation.DoesNotExist, ValueError) as exc:
        raise NotFound from exc


def audit_scope(user) -> Q:
    """The audit events a user sees as an owner or admin: those of their projects (registered with audit)."""
    administered = Membership.objects.filter(user=user, role__in=(Role.OWNER, Role.ADMIN))
    bound = bound_project(user)
    if bound is not None:
        administered = administered.filter(project_id=bound)
    return Q(project_id__in=administered.values("project_id"))


def project_secret_list(*, project: Project) -> QuerySet[ProjectSecret]:
    """The project's secrets (names and metadata; the ciphertext is left out of the query)."""
    return ProjectSecret.objects.filter(project=project).defer("ciphertext").select_related("created_by")


def project_secret_get(*, project: Project, name: str) -> ProjectSecret:
    """One secret of the project by name; 404 for a name it does not have."""
    try:
        return project_secret_list(project=project).get(name=name)
    except ProjectSecret.DoesNotExist as exc:
        # The name is echoed only when it is one (it comes from the URL).
        raise NotFound(f"This project has no secret named {name!r}." if SECRET_NAME.match(name) else None) from exc


def project_secret_names(*, project: Project, names) -> set[str]:
    """Which of `names` the project has secrets for (what a workflow's save checks)."""
    return set(ProjectSecret.objects.filter(project=project, name__in=list(names)).values_list("name", flat=True))
