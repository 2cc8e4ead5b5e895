"""Celery tasks of the accounts app: thin wrappers that take ids and call a service (safe to run twice)."""

from celery import shared_task
from django.core.management import call_command

from accounts import services, tokens
from accounts.gdpr import export
from common.mail import MAIL_TASK_OPTIONS


@shared_task(name="accounts.flush_expired_tokens", ignore_result=True)
def flush_expired_tokens() -> None:
    """Delete expired outstanding and blacklisted refresh tokens, and revoked families past their tokens' expiry."""
    call_command("flushexpiredtokens")
    tokens.revoked_families_purge()


@shared_task(name=export.BUILD_TASK, ignore_result=True, acks_late=True)
def build_export(export_id: str) -> None:
    """Build one requested data export (queued by accounts.gdpr.export.data_export_request)."""
    export.data_export_build(export_id=export_id)


@shared_task(name=services.VERIFICATION_TASK, **MAIL_TASK_OPTIONS)
def send_verification_email(user_id: str) -> None:
    """Mail a verification link to one account (queued at registration and by resend); retried on SMTP errors."""
    services.email_verification_send(user_id=user_id)
