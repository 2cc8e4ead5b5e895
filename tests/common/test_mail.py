"""Mail configuration (EMAIL_URL) and what mail code may log."""

import os
import subprocess
import sys
from pathlib import Path

from common import mail, redaction

ROOT = Path(__file__).resolve().parents[2]


def settings_of(env: dict, *names: str) -> list[str]:
    """The values of settings under test settings with `env` (a value None: unset), each on a line (a fresh
    process)."""
    code = "from django.conf import settings; " + "; ".join(f"print(repr(settings.{n}))" for n in names)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={
            k: v
            for k, v in {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env}.items()
            if v is not None
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-len(names) :]


def test_email_url_configures_smtp_with_tls():
    values = settings_of(
        {"EMAIL_URL": "smtp+tls://mailer:s3cret%40pw@smtp.example.com:587"},
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_TLS",
        "EMAIL_TIMEOUT",
    )
    assert values == [
        "'django.core.mail.backends.smtp.EmailBackend'",
        "'smtp.example.com'",
        "587",
        "'mailer'",
        "'s3cret@pw'",
        "True",
        "10",
    ]


def test_without_email_url_mails_go_to_the_console():
    values = settings_of({"EMAIL_URL": None}, "EMAIL_BACKEND")
    assert values == ["'django.core.mail.backends.console.EmailBackend'"]


def test_the_smtp_password_is_redacted_from_logs(settings):
    settings.EMAIL_HOST_PASSWORD = "smtp-password-0123456789"
    assert "smtp-password-0123456789" not in redaction.for_logs().text("login failed with smtp-password-0123456789")


def test_a_link_with_its_token_is_redacted_from_logs():
    link = mail.link("/verify-email", "eyJ1IjoiYWJjIn0:1xYdc9:6LOxJ2_VdDroglEBo2GluxUTPaHzgQ_7WRhaLh_E5WE")
    assert "6LOxJ2_VdDroglEBo2GluxUTPaHzgQ_7WRhaLh_E5WE" not in redaction.for_logs().text(f"opening {link}")
