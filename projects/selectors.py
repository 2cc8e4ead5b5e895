"""Project reads, always scoped to the projects the user belongs to."""

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from projects.models import Membership, Project


def project_list(*, user) -> QuerySet[Project]:
    """The user's projects, each annotated with the user's `role`."""
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return Project.objects.filter(memberships__user=user).annotate(role=Subquery(role))


def project_get(*, user, project_id) -> Project:
    """One of the user's projects with `role`; 404 for anyone else (no existence leak)."""
    try:
        return project_list(user=user).get(pk=project_id)
    except (Project.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user")


def membership_get(*, project: Project, membership_id) -> Membership:
    try:
        return membership_list(project=project).get(pk=membership_id)
    except (Membership.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def role_of(*, user, project: Project) -> str | None:
    """The user's role in the project, or None for a non-member."""
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
