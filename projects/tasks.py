"""Celery tasks of the projects app: thin wrappers that take ids and call a service (safe to run twice)."""

from celery import shared_task

from common.mail import MAIL_TASK_OPTIONS
from projects import services


@shared_task(name=services.INVITATION_TASK, **MAIL_TASK_OPTIONS)
def send_invitation(invitation_id: str) -> None:
    """Mail one invitation (queued by projects.services.invitation_create); retried on SMTP errors."""
    services.invitation_send(invitation_id=invitation_id)
