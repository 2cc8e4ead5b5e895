"""The projects app's part of a person's export and erasure (registered with accounts.gdpr from ready()).

Export: the person's memberships, and the projects they created with their members as user ids only.
Invitations: those addressed to the person's email, only once the account has proven the address (verified: an
unverified account may be someone else's squat on it, who must learn nothing of the invitation), and those the
person sent, without the invitee's address (someone else's data). An erasure deletes the invitations addressed
to a verified account's email; the ones the person sent stay for the project, pointing to the pseudonym.
Erasure: a project the person is the only member of is deleted; in any other the person leaves, and when they
were its last owner the longest-standing admin (else editor, else viewer) becomes owner, preferring people whose
account is active. The handover is an audit event (and a history entry of the membership, through auditlog).
"""

from django.db.models import Case, IntegerField, Value, When

from accounts.models import User
from audit import recording as audit
from audit.models import Category
from projects.models import Invitation, Membership, Project, ProjectSecret, Role

OWNERSHIP_TRANSFERRED = "gdpr.ownership_transferred"
PROJECT_DELETED = "gdpr.project_deleted"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def memberships_export(user: User) -> list[dict]:
    """The person's memberships: project, role, since when, and who invited them (by id)."""
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("created_at")
    return [
        {
            "project_id": str(m.project_id),
            "project_name": m.project.name,
            "role": m.role,
            "joined_at": _iso(m.created_at),
            "invited_by_id": str(m.invited_by_id) if m.invited_by_id else None,
        }
        for m in memberships
    ]


def projects_export(user: User) -> list[dict]:
    """The projects the person created; their members appear as user ids (pseudonymous), never email or name."""
    projects = Project.objects.filter(created_by=user).prefetch_related("memberships").order_by("created_at")
    return [
        {
            "id": str(p.pk),
            "name": p.name,
            "slug": p.slug,
            "description": p.description,
            "created_at": _iso(p.created_at),
            "members": [
                {"user_id": str(m.user_id), "role": m.role, "joined_at": _iso(m.created_at)}
                for m in sorted(p.memberships.all(), key=lambda m: m.created_at)
            ],
        }
        for p in projects
    ]


# Successors by role (admin first), then by who joined first.
_SUCCESSION = Case(
    When(role=Role.ADMIN, then=Value(0)),
    When(role=Role.EDITOR, then=Value(1)),
    When(role=Role.VIEWER, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def _successor(project: Project, *, leaving: User) -> Membership | None:
    others = Membership.objects.filter(project=project).exclude(user=leaving).select_related("user")
    ranked = others.annotate(rank=_SUCCESSION).order_by("rank", "created_at", "pk")
    return ranked.filter(user__is_active=True).first() or ranked.first()


def projects_erase(user: User) -> dict[str, int]:
    """Delete the projects the person is alone in; leave the others, handing ownership over where needed."""
    deleted = transferred = left = 0
    memberships = Membership.objects.select_for_update().filter(user=user).select_related("project")
    for membership in memberships.order_by("created_at"):
        project = membership.project
        successor = _successor(project, leaving=user)
        if successor is None:
            audit.record(
                Category.GDPR, PROJECT_DELETED, resource_type="project", resource_id=project.pk, project_id=project.pk
            )
            project.delete()
            deleted += 1
            continue
        owners = Membership.objects.filter(project=project, role=Role.OWNER).exclude(user=user)
        if membership.role == Role.OWNER and not owners.exists():
            successor.role = Role.OWNER
            successor.save(update_fields=["role", "updated_at"])
            audit.record(
                Category.GDPR,
                OWNERSHIP_TRANSFERRED,
                resource_type="project",
                resource_id=project.pk,
                project_id=project.pk,
                detail={"from_user_id": str(user.pk), "to_user_id": str(successor.user_id)},
            )
            transferred += 1
        membership.delete()
        left += 1
    return {"projects_deleted": deleted, "projects_transferred": transferred, "projects_left": left}


def project_secrets_export(user: User) -> list[dict]:
    """The secrets the person created: names and metadata, never a value (the export is not a way to read one)."""
    secrets = ProjectSecret.objects.filter(created_by=user).defer("ciphertext").order_by("created_at")
    return [
        {
            "project_id": str(s.project_id),
            "name": s.name,
            "description": s.description,
            "created_at": _iso(s.created_at),
            "updated_at": _iso(s.updated_at),
            "last_used_at": _iso(s.last_used_at),
        }
        for s in secrets
    ]


def invitations_export(user: User) -> dict:
    """Invitations to the person's (verified) address, and those they sent (without the invitee's address)."""
    received = Invitation.objects.none()
    if user.email_verified:
        received = Invitation.objects.filter(email__iexact=user.email).select_related("project")
    sent = Invitation.objects.filter(invited_by=user).order_by("created_at")
    return {
        "received": [
            {
                "id": str(i.pk),
                "project_id": str(i.project_id),
                "project_name": i.project.name,
                "email": i.email,
                "role": i.role,
                "status": i.current_status,
                "invited_by_id": str(i.invited_by_id) if i.invited_by_id else None,
                "created_at": _iso(i.created_at),
                "expires_at": _iso(i.expires_at),
                "accepted_at": _iso(i.accepted_at),
            }
            for i in received.order_by("created_at")
        ],
        "sent": [
            {
                "id": str(i.pk),
                "project_id": str(i.project_id),
                "role": i.role,
                "status": i.current_status,
                "created_at": _iso(i.created_at),
            }
            for i in sent
        ],
    }


def invitations_erase(user: User) -> dict[str, int]:
    """Delete the invitations addressed to the person's verified email (pending or not)."""
    if not user.email_verified:
        return {"invitations_deleted": 0}
    deleted, _ = Invitation.objects.filter(email__iexact=user.email).delete()
    return {"invitations_deleted": deleted}
