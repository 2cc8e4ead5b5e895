"""Test settings: fast hashing and generous throttles. The suite's PostgreSQL, Redis and broker are environment
defaults set by pytest-env (pyproject.toml, [tool.pytest_env]), so base.py builds every backend once."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, REST_FRAMEWORK, SECRETS_ENCRYPTION_KEY, SIMPLE_JWT

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"
SIMPLE_JWT["SIGNING_KEY"] = "test-jwt-signing-key-not-for-production-0123456789"
DEBUG = False
AUDIT_HMAC_KEY = "test-audit-hmac-key-not-for-production-0123456789"
# The environment wins, so that a test can start a worker after a key rotation (tests/workflows/tasks/test_secrets.py).
SECRETS_ENCRYPTION_KEY = SECRETS_ENCRYPTION_KEY or "dGVzdC1zZWNyZXRzLWtleS1ub3QtZm9yLXByb2R1Y3Q="
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Generous rates so that ordinary tests never hit them; throttling tests lower them.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": "10000/minute",
    "user": "10000/minute",
    "auth": "10000/minute",
    "email": "10000/minute",
    "oauth_token": "10000/minute",
}

# `manage.py lintmigrations` (make lint): django-migration-linter is a dev requirement, not installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]
