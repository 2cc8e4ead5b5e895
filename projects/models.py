from django.conf import settings
from django.db import models

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
