"""Account reads, scoped to the caller: a person sees their own data exports only."""

from django.core.exceptions import ValidationError

from accounts.models import DataExport, User
from common.errors import NotFound


def data_export_get(*, user: User, export_id) -> DataExport:
    """One of the caller's exports; 404 for anyone else's (no existence leak)."""
    try:
        return DataExport.objects.get(pk=export_id, user=user)
    except (DataExport.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound from exc


def user_by_email(*, email: str) -> User | None:
    """The account with this email (any case), for the operator's commands."""
    return User.objects.filter(email__iexact=User.objects.normalize_email(email.strip())).first()
