"""The embedded default: one laptop, SQLite under var/, in-process cache, DEBUG on."""

from config.env import env

from .base import *  # noqa: F403
from .base import AUDIT_HMAC_KEY, REDIS_URL, SECRET_KEY, SECRETS_ENCRYPTION_KEY, SIMPLE_JWT

DEBUG = env.bool("DEBUG", default=True)
# Defaults that exist only here: a laptop has no secrets to configure.
SECRET_KEY = SECRET_KEY or "local-insecure-key-only-for-the-embedded-default-0123456789"
AUDIT_HMAC_KEY = AUDIT_HMAC_KEY or "local-insecure-audit-key-only-for-the-embedded-default"
# A Fernet key (32 url-safe base64 bytes) for project secrets on a laptop.
SECRETS_ENCRYPTION_KEY = SECRETS_ENCRYPTION_KEY or "bG9jYWwtaW5zZWN1cmUtc2VjcmV0cy1rZXktMDEyMzQ="
SIMPLE_JWT["SIGNING_KEY"] = SIMPLE_JWT["SIGNING_KEY"] or "local-insecure-jwt-key-only-for-the-embedded-default-01"
# Prometheus may scrape a laptop's /metrics from the same machine.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])

# Without REDIS_URL the lockout counts live in the process' own cache: right for one runserver, which is all a
# laptop has (axes warns that several processes would not share them).
if not REDIS_URL:
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]

# Static files straight from the apps (no collectstatic needed on a laptop).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
