import re

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from common.models import BaseModel


class Role(models.TextChoices):
    """A member's role; each role can do everything the roles below it can."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"

    @classmethod
    def rank(cls, role: str) -> int:
        ranks: dict[str, int] = {cls.VIEWER: 0, cls.EDITOR: 1, cls.ADMIN: 2, cls.OWNER: 3}
        return ranks[role]

    @classmethod
    def at_least(cls, role: str, minimum: str) -> bool:
        return cls.rank(role) >= cls.rank(minimum)


class Project(BaseModel):
    """A team's workspace: it holds workflows and is shared with members."""

    name = models.CharField(max_length=200)
    # Unique per creator, not across tenants: a global constraint let anyone probe for other tenants' slugs.
    slug = models.SlugField(max_length=220)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quota_executions_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the default (QUOTA_EXECUTIONS_PER_DAY). 0: unlimited."
    )
    quota_llm_tokens_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the default (QUOTA_LLM_TOKENS_PER_DAY). 0: unlimited."
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["created_by", "slug"], name="unique_project_slug_per_owner")]

    def get_additional_data(self) -> dict:
        """What its audit history entries carry besides the diff: the project they belong to."""
        return {"project_id": str(self.pk)}

    def __str__(self) -> str:
        return self.name


class Membership(BaseModel):
    """A user's role in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_project_member")]
        indexes = [models.Index(fields=["user", "project"])]

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.project_id)}

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


SECRET_NAME_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"  # noqa: S105 - a pattern, not a secret
SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
SECRET_VALUE_MAX_BYTES = 64 * 1024
SECRETS_PER_PROJECT = 100


class ProjectSecret(BaseModel):
    """A write-only value the project's workflows read as ``{{ secrets.NAME }}``; only its ciphertext is stored.

    The value is encrypted by common.encryption (Vault transit or Fernet) and is never returned: not by the API,
    the admin, an export or the audit trail (history tracks the name and description only).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(
        max_length=64,
        validators=[RegexValidator(SECRET_NAME, "Use A-Z, 0-9 and _, starting with a letter (at most 64 characters).")],
    )
    ciphertext = models.TextField(editable=False)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_project_secret_name")]

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.project_id)}

    def __str__(self) -> str:
        return self.name


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    # Stored when a new invitation replaces an expired one; a pending one past expires_at also shows as expired.
    EXPIRED = "expired", "Expired"


class Invitation(BaseModel):
    """An offer of a role in a project to whoever proves they read mail at `email` (projects.invitations).

    Only the SHA-256 of the mailed token is stored (`token_hash`, set when the mail goes out)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    expires_at = models.DateTimeField()
    mailed_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "email"],
                condition=models.Q(status="pending"),
                name="unique_pending_invitation",
            )
        ]
        indexes = [models.Index(fields=["email"], name="invitation_email")]

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.project_id)}

    def __str__(self) -> str:
        return f"invitation {self.pk} ({self.current_status})"

    @property
    def current_status(self) -> str:
        """The status as the API shows it: a pending invitation past its expires_at is expired."""
        if self.status == InvitationStatus.PENDING and self.expires_at <= timezone.now():
            return InvitationStatus.EXPIRED
        return self.status


class QuotaUsage(models.Model):
    """What a project used of its quotas on one UTC day (projects.quotas counts it with atomic updates)."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    executions = models.BigIntegerField(default=0)
    llm_tokens = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "day"], name="unique_project_quota_day")]
        indexes = [models.Index(fields=["day"], name="projects_quota_day")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.day}: {self.executions} executions, {self.llm_tokens} LLM tokens"
