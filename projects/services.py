"""Project writes: projects and their members. Role rules are enforced here."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.models import User
from common.errors import Conflict, Invalid
from common.services import model_update
from projects.models import Membership, Project, Role
from projects.permissions import require_role

SLUG_TAKEN = "You already have a project with this slug."


def _slugs_of(owner: User | None, *, exclude_id=None):
    """The slugs a new or renamed project must not reuse: its creator's own (slugs are unique per creator only, so
    nothing here depends on another tenant's projects)."""
    taken = Project.objects.filter(created_by=owner) if owner is not None else Project.objects.none()
    return taken.exclude(pk=exclude_id) if exclude_id else taken


def _unique_slug(base: str, *, owner: User) -> str:
    base = (slugify(base) or "project")[:200]
    slug, n = base, 1
    taken = _slugs_of(owner)
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def project_create(*, name: str, description: str = "", slug: str = "", actor: User) -> Project:
    """Create a project; the creator becomes its owner. Its slug is unique among the creator's projects."""
    if slug and _slugs_of(actor).filter(slug=slug).exists():
        raise Invalid(SLUG_TAKEN, field="slug")
    project = Project(
        name=name, description=description, slug=slug or _unique_slug(name, owner=actor), created_by=actor
    )
    project.full_clean(validate_constraints=False)  # the slug was checked above; the constraint holds in the race
    try:
        with transaction.atomic():
            project.save()
    except IntegrityError as exc:  # the same creator, the same slug, at the same time
        raise Invalid(SLUG_TAKEN, field="slug") from exc
    Membership.objects.create(project=project, user=actor, role=Role.OWNER, invited_by=actor)
    project.role = Role.OWNER  # type: ignore[attr-defined]  # as projects.selectors annotate it
    return project


@transaction.atomic
def project_update(*, project: Project, role: str, actor: User, **fields) -> Project:
    """Change name, slug or description (admins and owners)."""
    require_role(role, Role.ADMIN, "change the project")
    slug = fields.get("slug")
    if slug and _slugs_of(project.created_by, exclude_id=project.pk).filter(slug=slug).exists():
        raise Invalid(SLUG_TAKEN, field="slug")
    model_update(instance=project, fields=("name", "slug", "description"), data=fields)
    return project


@transaction.atomic
def project_delete(*, project: Project, role: str, actor: User) -> None:
    """Delete a project and everything in it (owners only)."""
    require_role(role, Role.OWNER, "delete the project")
    project.delete()


def _owner_count(project: Project) -> int:
    # Lock the owner rows so two concurrent demotions cannot both pass the last-owner check.
    return len(Membership.objects.select_for_update().filter(project=project, role=Role.OWNER).values_list("pk"))


@transaction.atomic
def project_member_add(*, project: Project, role: str, email: str, new_role: str, actor: User) -> Membership:
    """Add an existing user to the project (admins; only owners grant owner)."""
    require_role(role, Role.ADMIN, "manage members")
    if new_role == Role.OWNER:
        require_role(role, Role.OWNER, "make someone an owner")
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise Invalid("No active user has this email address; they must register first.", field="email")
    if Membership.objects.filter(project=project, user=user).exists():
        raise Invalid("This user is already a member of the project.", field="email")
    membership = Membership(project=project, user=user, role=new_role, invited_by=actor)
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def project_member_update(*, membership: Membership, role: str, new_role: str, actor: User) -> Membership:
    """Change a member's role (admins; only owners touch the owner role; never the last owner)."""
    require_role(role, Role.ADMIN, "manage members")
    if Role.OWNER in (membership.role, new_role):
        require_role(role, Role.OWNER, "change an owner")
    if membership.role == Role.OWNER and new_role != Role.OWNER and _owner_count(membership.project) <= 1:
        raise Invalid("The last owner cannot be demoted; make someone else owner first.", field="role")
    model_update(instance=membership, fields=("role",), data={"role": new_role})
    return membership


@transaction.atomic
def project_member_remove(*, membership: Membership, role: str, actor: User) -> None:
    """Remove a member, or leave the project oneself; the last owner cannot leave."""
    if membership.user_id != actor.pk:
        require_role(role, Role.ADMIN, "manage members")
        if membership.role == Role.OWNER:
            require_role(role, Role.OWNER, "remove an owner")
    if membership.role == Role.OWNER and _owner_count(membership.project) <= 1:
        raise Conflict("The last owner cannot leave the project; make someone else owner first.", code="last_owner")
    membership.delete()
