"""Celery configuration: production needs a real broker; the embedded default needs none."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
    "AUDIT_HMAC_KEY": secrets.token_urlsafe(50),
    "SECRETS_ENCRYPTION_KEY": "cHJvZHVjdGlvbi10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/aiassistant",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "api.example.com",
}
SHOW = "from django.conf import settings; print(settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS)"


def shell(overrides: dict, *, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (*PRODUCTION, "CELERY_BROKER_URL", *drop)}
    env |= overrides
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_broker():
    result = shell(PRODUCTION)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith("(see .env.example)")
    assert "CELERY_BROKER_URL" in result.stderr


def test_production_refuses_the_filesystem_broker():
    result = shell(PRODUCTION | {"CELERY_BROKER_URL": "filesystem://"})
    assert result.returncode != 0
    assert "Redis or RabbitMQ" in result.stderr


def test_production_redis_broker_gets_a_visibility_timeout():
    result = shell(
        PRODUCTION | {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/1", "CELERY_BROKER_VISIBILITY_TIMEOUT": "900"}
    )
    assert result.returncode == 0, result.stderr
    assert "'visibility_timeout': 900" in result.stdout


def test_embedded_default_uses_the_filesystem_transport_under_var():
    result = shell({"DJANGO_SETTINGS_MODULE": "config.settings.local"}, drop=("DATABASE_URL", "REDIS_URL"))
    assert result.returncode == 0, result.stderr
    assert "filesystem:// {" in result.stdout
    assert str(ROOT / "var" / "celery" / "queue") in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("task_acks_late", True),
        ("task_reject_on_worker_lost", True),
        ("worker_prefetch_multiplier", 1),
        ("task_ignore_result", True),
    ],
)
def test_late_acknowledgement_settings_reach_the_celery_app(name, value):
    assert app.conf[name] == value


def test_worker_soft_shutdown_and_time_limits_are_set(settings):
    assert app.conf.worker_soft_shutdown_timeout > 0
    assert app.conf.task_soft_time_limit > settings.WORKFLOW_EXECUTION_TIME_LIMIT
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit
