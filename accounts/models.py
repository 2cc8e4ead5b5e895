import uuid
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from common.models import BaseModel


class UserManager(BaseUserManager["User"]):
    """Creates users identified by email."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address and a password."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set by the erasure (accounts.gdpr.erasure): the row stays as a pseudonym that other rows point to.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the person proved they read mail at `email` (accounts.verification); invitations need it.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    # Never stored: a ready export past its expires_at (see DataExport.current_status).
    EXPIRED = "expired", "Expired"


class DataExport(BaseModel):
    """A person's request for a copy of their data (GDPR Art. 15/20): one JSON document in STORAGES["exports"]."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    file_key = models.CharField(max_length=255, blank=True, help_text='The document\'s name in STORAGES["exports"].')
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="data_export_user_created")]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.current_status})"

    @property
    def current_status(self) -> str:
        """The status as the API shows it: a ready export whose download period is over is expired."""
        if self.status == ExportStatus.READY and self.expires_at is not None and self.expires_at <= timezone.now():
            return ExportStatus.EXPIRED
        return self.status


class RevokedTokenFamily(models.Model):
    """A refresh-token family (one sign-in and every rotation of it) revoked because a rotated token came back.

    Reuse of a rotated refresh token means two parties hold the chain (theft): every token of the family is
    refused from then on (accounts.tokens). No personal data: the family id is a random claim of the tokens.
    """

    family = models.CharField(max_length=64, primary_key=True)
    revoked_at = models.DateTimeField(default=timezone.now)
    # After this no token of the family is valid anyway (its latest refresh token's expiry): the row may go.
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"family {self.family} revoked at {self.revoked_at:%Y-%m-%d %H:%M:%S}"
