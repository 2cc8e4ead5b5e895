"""Production settings refuse to start without their secrets, with one line naming what is missing."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPLETE = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
    "AUDIT_HMAC_KEY": secrets.token_urlsafe(50),
    "SECRETS_ENCRYPTION_KEY": "cHJvZHVjdGlvbi10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/aiassistant",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "ALLOWED_HOSTS": "api.example.com",
    "BACKUP_STORAGE": "s3",
    "AWS_STORAGE_BUCKET_NAME": "aiassistant-backups",
}


def check(env_overrides, *args):
    env = {k: v for k, v in os.environ.items() if k not in COMPLETE}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.production", **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "missing",
    ["SECRET_KEY", "JWT_SIGNING_KEY", "AUDIT_HMAC_KEY", "SECRETS_ENCRYPTION_KEY", "DATABASE_URL", "ALLOWED_HOSTS"],
)
def test_production_refuses_to_start_without(missing):
    result = check({k: v for k, v in COMPLETE.items() if k != missing})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]


def test_production_refuses_sqlite():
    result = check(COMPLETE | {"DATABASE_URL": "sqlite:///tmp/x.sqlite3"})
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_production_deploy_check_is_clean():
    result = check(COMPLETE, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


SSO = {
    "OIDC_RP_CLIENT_ID": "aiassistant-admin",
    "OIDC_RP_CLIENT_SECRET": secrets.token_urlsafe(30),
    "OIDC_STAFF_GROUP": "aiassistant-staff",
    "OIDC_OP_DISCOVERY_URL": "https://idp.example.com/realms/example",
}


@pytest.mark.parametrize("missing", ["OIDC_RP_CLIENT_SECRET", "OIDC_STAFF_GROUP", "OIDC_OP_DISCOVERY_URL"])
def test_sso_turned_on_refuses_to_start_without(missing):
    result = check(COMPLETE | {k: v for k, v in SSO.items() if k != missing})
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert missing in line and line.endswith("(see .env.example)")


def test_sso_turned_on_with_explicit_endpoints_passes_the_deploy_check():
    explicit = {
        "OIDC_OP_DISCOVERY_URL": "",
        "OIDC_OP_ISSUER": "https://idp.example.com",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example.com/token",
        "OIDC_OP_JWKS_ENDPOINT": "https://idp.example.com/jwks",
    }
    result = check(COMPLETE | SSO | explicit, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
