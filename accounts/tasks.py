"""Celery tasks of the accounts app (scheduled by beat)."""

from celery import shared_task
from django.core.management import call_command


@shared_task(name="accounts.flush_expired_tokens", ignore_result=True)
def flush_expired_tokens() -> None:
    """Delete expired outstanding and blacklisted refresh tokens, so the blacklist table stays small."""
    call_command("flushexpiredtokens")
