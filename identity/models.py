from django.conf import settings
from django.db import models
from django.utils import timezone

from common.grants import READ, WRITE
from common.models import BaseModel


class Scope(models.TextChoices):
    READ = READ, "Read"
    WRITE = WRITE, "Write"


class ApiToken(BaseModel):
    """A personal API token: acts as its user, within its scope and optionally one project; only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # The first characters after `aia_` (not a secret on their own: 8 of 43+ random characters), to find the row;
    # the SHA-256 of the whole token proves it (see docs/security.md for why not Argon2).
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="api_token_user_created")]

    def __str__(self) -> str:
        return f"API token {self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class OAuthClient(BaseModel):
    """An OAuth2 client (client credentials) of one project: django-oauth-toolkit's Application plus its limits.

    Its access tokens act as the project admin who created it, bound to the project, within `scope` at most.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="oauth_clients")
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="project_client"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ, help_text="The widest scope.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_clients")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"OAuth2 client {self.name}"

    @property
    def client_id(self) -> str:
        return self.application.client_id

    def allowed_scopes(self) -> list[str]:
        return [READ, WRITE] if self.scope == WRITE else [READ]
