"""Project writes: projects, their members and their secrets. Role rules are enforced here."""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from audit import recording as audit
from audit.models import Category
from common import encryption
from common.errors import Conflict, Invalid, NotFound, Unavailable
from common.services import model_update
from projects.models import SECRET_VALUE_MAX_BYTES, SECRETS_PER_PROJECT, Membership, Project, ProjectSecret, Role
from projects.permissions import require_role

logger = logging.getLogger("aiassistant.projects")


def _unique_slug(base: str, *, exclude_id=None) -> str:
    base = (slugify(base) or "project")[:200]
    slug, n = base, 1
    taken = Project.objects.exclude(pk=exclude_id) if exclude_id else Project.objects.all()
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def project_create(*, name: str, description: str = "", slug: str = "", actor: User) -> Project:
    """Create a project; the creator becomes its owner."""
    if slug and Project.objects.filter(slug=slug).exists():
        raise Invalid("A project with this slug already exists.", field="slug")
    project = Project(name=name, description=description, slug=slug or _unique_slug(name), created_by=actor)
    project.full_clean()
    project.save()
    Membership.objects.create(project=project, user=actor, role=Role.OWNER, invited_by=actor)
    project.role = Role.OWNER  # type: ignore[attr-defined]  # as projects.selectors annotate it
    return project


@transaction.atomic
def project_update(*, project: Project, role: str, actor: User, **fields) -> Project:
    """Change name, slug or description (admins and owners)."""
    require_role(role, Role.ADMIN, "change the project")
    slug = fields.get("slug")
    if slug and Project.objects.exclude(pk=project.pk).filter(slug=slug).exists():
        raise Invalid("A project with this slug already exists.", field="slug")
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


# --- project secrets (write-only values; docs/operations.md#project-secrets) ---------------------------------------

SECRET_CREATED, SECRET_REPLACED, SECRET_DELETED, SECRET_USED = (
    "secret.created",
    "secret.replaced",
    "secret.deleted",
    "secret.used",
)


class MissingSecrets(NotFound):
    """A workflow step names secrets the project does not have (deleted after the workflow was saved)."""

    def __init__(self, names: list[str]):
        self.names = names
        listed = ", ".join(repr(name) for name in names)
        super().__init__(
            f"project secret {listed} does not exist" if len(names) == 1 else f"project secrets {listed} do not exist"
        )


def _check_value(value) -> None:
    """Messages about a value name its size, never its text."""
    if not isinstance(value, str) or not value:
        raise Invalid("The value must be a non-empty string.", field="value")
    size = len(value.encode())
    if size > SECRET_VALUE_MAX_BYTES:
        raise Invalid(
            f"The value is {size} bytes; a secret holds at most {SECRET_VALUE_MAX_BYTES} bytes (64 KiB).", field="value"
        )


def _secret_event(action: str, secret: ProjectSecret, **detail) -> None:
    audit.record(
        Category.SECRET,
        action,
        resource_type="projectsecret",
        resource_id=secret.pk,
        project_id=secret.project_id,
        detail={"name": secret.name, **detail},
    )


@transaction.atomic
def project_secret_create(
    *, project: Project, role: str | None, name: str, value: str, description: str = "", actor: User
) -> ProjectSecret:
    """Store a new secret, encrypted (editors and above); at most SECRETS_PER_PROJECT per project."""
    require_role(role, Role.EDITOR, "manage project secrets")
    _check_value(value)
    # The project row is the lock: two concurrent creations can pass neither the limit nor the name check together.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    secrets = ProjectSecret.objects.filter(project=project)
    if secrets.filter(name=name).exists():
        raise Conflict(
            f"This project already has a secret named {name!r}; PUT replaces its value.", code="secret_exists"
        )
    if secrets.count() >= SECRETS_PER_PROJECT:
        raise Invalid(f"A project holds at most {SECRETS_PER_PROJECT} secrets; delete one first.", field="name")
    secret = ProjectSecret(project=project, name=name, description=description, created_by=actor)
    secret.full_clean(exclude=["ciphertext", "project", "created_by"], validate_constraints=False)
    secret.ciphertext = _encrypt(value)
    secret.save()
    _secret_event(SECRET_CREATED, secret)
    return secret


@transaction.atomic
def project_secret_replace(
    *, secret: ProjectSecret, role: str | None, value: str, description: str | None = None, actor: User
) -> ProjectSecret:
    """Replace a secret's value (and its description, when given) (editors and above)."""
    require_role(role, Role.EDITOR, "manage project secrets")
    _check_value(value)
    secret.ciphertext = _encrypt(value)
    fields = ["ciphertext", "updated_at"]
    if description is not None and description != secret.description:
        secret.description = description
        fields.append("description")
    secret.save(update_fields=fields)
    _secret_event(SECRET_REPLACED, secret)
    return secret


@transaction.atomic
def project_secret_delete(*, secret: ProjectSecret, role: str | None, actor: User) -> None:
    """Delete a secret (editors and above); steps that still name it fail, naming it, when they run."""
    require_role(role, Role.EDITOR, "manage project secrets")
    _secret_event(SECRET_DELETED, secret)
    secret.delete()


def _encrypt(value: str) -> str:
    try:
        return encryption.encrypt(value)
    except encryption.EncryptionError as exc:
        logger.error("project secret not stored: %s", exc)
        raise Unavailable("Secrets cannot be encrypted right now; try again later.") from None


def project_secrets_use(*, project: Project, names, execution_id, step_id: str) -> dict[str, str]:
    """The values of the named secrets, for a workflow step about to run: decrypted now, marked used, audited.

    Raises MissingSecrets naming every name the project does not have, and EncryptionError (one line).
    """
    wanted = sorted(set(names))
    secrets = list(ProjectSecret.objects.filter(project=project, name__in=wanted))
    missing = sorted(set(wanted) - {secret.name for secret in secrets})
    if missing:
        raise MissingSecrets(missing)
    values = {secret.name: encryption.decrypt(secret.ciphertext) for secret in secrets}
    with transaction.atomic():
        ProjectSecret.objects.filter(pk__in=[secret.pk for secret in secrets]).update(last_used_at=timezone.now())
        for secret in secrets:
            _secret_event(SECRET_USED, secret, execution_id=str(execution_id), step_id=step_id)
    return values


SECRETS_REWRAPPED = "secret.rewrapped"


def project_secrets_rewrap() -> dict[str, int]:
    """Re-encrypt every project secret under the newest key of the current backend (after adding a Fernet key or
    rotating the transit key; also moves Fernet values to transit once VAULT_TRANSIT_KEY is set).

    Each row is written only if its ciphertext is still the one read (a value replaced meanwhile is already under
    the newest key). Returns {"rewrapped", "skipped"}; raises EncryptionError (one line) and stops at the first
    value that cannot be rewrapped, leaving the rest as they were (run it again once the cause is fixed).
    """
    counts = {"rewrapped": 0, "skipped": 0}
    completed = False
    try:
        for pk, ciphertext in ProjectSecret.objects.order_by("pk").values_list("pk", "ciphertext").iterator():
            new = encryption.rewrap(ciphertext)
            if ProjectSecret.objects.filter(pk=pk, ciphertext=ciphertext).update(ciphertext=new):
                counts["rewrapped"] += 1
            else:
                counts["skipped"] += 1
        completed = True
    finally:
        audit.record(
            Category.SECRET,
            SECRETS_REWRAPPED,
            resource_type="projectsecret",
            detail={"backend": encryption.backend(), "completed": completed, **counts},
        )
    return counts
