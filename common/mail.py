"""Sending the service's mails (verification links, invitations) from Celery tasks, over EMAIL_URL's backend.

`MAIL_TASK_OPTIONS` is what every mail task declares: SMTP failures (refused connection, timeout, a 4xx answer)
are retried with exponential backoff; a refused recipient (5xx for that address) is not, since it will not change.
Mails carry tokens: nothing here logs a body, a link or an exception message that could quote them.
"""

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

logger = logging.getLogger("aiassistant.mail")

MAIL_TASK_OPTIONS = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "dont_autoretry_for": (smtplib.SMTPRecipientsRefused,),
    "retry_backoff": 2,  # 2, 4, 8... seconds, with jitter
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
    "ignore_result": True,
}


def link(path: str, token: str) -> str:
    """A link into the client application; the token is in the fragment, which no server receives or logs."""
    return f"{settings.FRONTEND_URL}{path}#token={token}"


def send(*, to: str, subject: str, body: str, kind: str) -> None:
    """Send one plain-text mail (raises on failure, so that the task retries); logs the kind, never the body."""
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.send(fail_silently=False)
    logger.info("mail sent", extra={"mail_kind": kind})
