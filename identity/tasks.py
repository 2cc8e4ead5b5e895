"""Celery tasks of the identity app (safe to run twice)."""

from celery import shared_task
from oauth2_provider.models import clear_expired


@shared_task(name="identity.clear_expired_oauth_tokens", ignore_result=True)
def clear_expired_oauth_tokens() -> None:
    """Delete expired OAuth2 access tokens (django-oauth-toolkit's cleartokens), so the table stays small."""
    clear_expired()
