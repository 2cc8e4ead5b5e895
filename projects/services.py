"""Project writes: projects, their members, invitations and secrets. Role rules are enforced here.

Invitations (issue 12, "invitation hijack"): nobody becomes a member by owning an account with the right email.
An admin invites an address; a mail carries a single-use token (`inv_` + 32 random bytes, URL-safe) of which only
the SHA-256 is stored; whoever accepts it must be signed in with a verified account of that same address, within
INVITATION_EXPIRY_DAYS. The token is made by the mail task itself, inside the transaction that stores its hash,
so it never crosses the broker or a log: a failed send rolls the hash back and the retry makes a new token; a
second delivery of the task finds the invitation already mailed and does nothing.
"""

import hashlib
import logging
import secrets
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from audit import recording as audit
from audit.models import Category
from common import encryption, mail
from common.errors import Conflict, Gone, Invalid, NotFound, PermissionDenied, Unavailable
from common.grants import bound_project
from common.services import model_update
from projects.models import (
    SECRET_VALUE_MAX_BYTES,
    SECRETS_PER_PROJECT,
    Invitation,
    InvitationStatus,
    Membership,
    Project,
    ProjectSecret,
    Role,
)
from projects.permissions import require_role

logger = logging.getLogger("aiassistant.projects")

INVITATION_TASK = "projects.send_invitation"
INVITATION_CREATED = "invitation.created"
INVITATION_REVOKED = "invitation.revoked"
INVITATION_ACCEPTED = "invitation.accepted"
TOKEN_PREFIX = "inv_"  # noqa: S105 - a prefix, not a password
# The same answer for a token nobody issued and one issued to another address: no existence leak.
NO_SUCH_INVITATION = "No invitation matches this token for your account."
NOT_VERIFIED = "Verify your email address before accepting invitations (POST /api/v1/auth/verify-email/resend/)."

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
    if bound_project(actor) is not None:
        raise PermissionDenied("A token bound to a project cannot create projects.", code="token_bound")
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


def token_hash(token: str) -> str:
    """The stored form of an invitation token (a 256-bit random value needs no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, project: Project, role: str, email: str, new_role: str, actor: User) -> Invitation:
    """Invite an address to the project (admins; only owners invite owners); the mail goes out after commit."""
    require_role(role, Role.ADMIN, "manage members")
    if new_role == Role.OWNER:
        require_role(role, Role.OWNER, "make someone an owner")
    email = User.objects.normalize_email(email.strip()).lower()
    if Membership.objects.filter(project=project, user__email__iexact=email).exists():
        raise Invalid("This user is already a member of the project.", field="email")
    pending = Invitation.objects.select_for_update().filter(
        project=project, email=email, status=InvitationStatus.PENDING
    )
    for previous in pending:
        if previous.current_status != InvitationStatus.EXPIRED:
            raise Conflict(
                "This address already has a pending invitation; revoke it to invite again.", code="already_invited"
            )
        previous.status = InvitationStatus.EXPIRED
        previous.save(update_fields=["status", "updated_at"])
    invitation = Invitation(
        project=project,
        email=email,
        role=new_role,
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS),
    )
    invitation.full_clean()
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as exc:  # a concurrent invitation of the same address won the race
        raise Conflict("This address already has a pending invitation.", code="already_invited") from exc
    audit.record(
        Category.AUTH,
        INVITATION_CREATED,
        resource_type="invitation",
        resource_id=invitation.pk,
        project_id=project.pk,
        detail={"role": new_role},
    )
    invitation_id = str(invitation.pk)
    transaction.on_commit(
        lambda: current_app.send_task(INVITATION_TASK, args=[invitation_id], queue=settings.WORKFLOW_EXECUTION_QUEUE)
    )
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, role: str, actor: User) -> Invitation:
    """Withdraw a pending invitation (admins; an owner invitation needs an owner); its token stops working."""
    require_role(role, Role.ADMIN, "manage members")
    if invitation.role == Role.OWNER:
        require_role(role, Role.OWNER, "revoke an owner invitation")
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(
            f"This invitation is {invitation.status}; only a pending one can be revoked.", code="not_pending"
        )
    invitation.status = InvitationStatus.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at", "updated_at"])
    audit.record(
        Category.AUTH,
        INVITATION_REVOKED,
        resource_type="invitation",
        resource_id=invitation.pk,
        project_id=invitation.project_id,
    )
    return invitation


@transaction.atomic
def invitation_send(*, invitation_id) -> bool:
    """The mail task's work: make the token, store its hash and mail it, in one transaction (see the module's
    docstring); False when there is nothing to send (already mailed, no longer pending, gone)."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("project", "invited_by")
        .filter(pk=invitation_id, status=InvitationStatus.PENDING, mailed_at__isnull=True)
        .first()
    )
    if invitation is None or invitation.current_status != InvitationStatus.PENDING:
        return False
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    invitation.token_hash = token_hash(token)
    invitation.mailed_at = timezone.now()
    invitation.save(update_fields=["token_hash", "mailed_at", "updated_at"])
    inviter = invitation.invited_by.full_name or invitation.invited_by.email if invitation.invited_by else "Someone"
    body = (
        "Hello,\n\n"
        f'{inviter} invited you to the project "{invitation.project.name}" as {invitation.role}.\n\n'
        "To accept, sign in with this email address (verified) and open this link:\n\n"
        f"{mail.link('/invitations/accept', token)}\n\n"
        f'or send this token to POST /api/v1/invitations/accept/ as {{"token": "..."}}:\n\n{token}\n\n'
        f"The invitation expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. If you did not expect it, ignore "
        "this mail.\n"
    )
    # Sent inside the transaction: if it fails the hash is rolled back and the retry starts afresh.
    mail.send(to=invitation.email, subject=f"Invitation to {invitation.project.name}", body=body, kind="invitation")
    return True


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the project the token invites to, as the invitation's role, signed in with that verified address.

    403 for an unverified account (before anything is looked up); the same 404 for a token nobody issued and one
    issued to another address; 410 for a revoked, expired or already used invitation; 409 for a member."""
    if not user.email_verified:
        raise PermissionDenied(NOT_VERIFIED, code="email_not_verified")
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None or invitation.email.lower() != user.email.lower():
        raise NotFound(NO_SUCH_INVITATION, code="invitation_not_found")
    current = invitation.current_status
    if current == InvitationStatus.ACCEPTED:
        raise Gone("This invitation has already been accepted.", code="invitation_used")
    if current == InvitationStatus.REVOKED:
        raise Gone("This invitation was revoked.", code="invitation_revoked")
    if current == InvitationStatus.EXPIRED:
        raise Gone("This invitation has expired; ask for a new one.", code="invitation_expired")
    if Membership.objects.filter(project=invitation.project, user=user).exists():
        raise Conflict("You are already a member of this project.", code="already_member")
    membership = Membership(
        project=invitation.project, user=user, role=invitation.role, invited_by=invitation.invited_by
    )
    membership.full_clean()
    membership.save()
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_by", "accepted_at", "updated_at"])
    audit.record(
        Category.AUTH,
        INVITATION_ACCEPTED,
        resource_type="invitation",
        resource_id=invitation.pk,
        project_id=invitation.project_id,
        detail={"membership_id": str(membership.pk), "role": membership.role},
    )
    return membership


def invitations_purge(cutoff, *, dry_run: bool, run_id) -> int:
    """Retention ("invitations"): delete invitations that ended (accepted, revoked, expired) before `cutoff`."""
    ended = Invitation.objects.filter(
        models.Q(status=InvitationStatus.PENDING, expires_at__lt=cutoff)
        | models.Q(status__in=(InvitationStatus.ACCEPTED, InvitationStatus.REVOKED, InvitationStatus.EXPIRED))
        & models.Q(updated_at__lt=cutoff)
    )
    if dry_run:
        return ended.count()
    return ended.delete()[0]
