"""Production: HTTPS behind a proxy, PostgreSQL, Redis; refuses to start without its secrets."""

from config.env import env, require

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, DATABASES, REQUIRED_SECRETS, SIMPLE_JWT, STATIC_STORAGE, STORAGES

DEBUG = False
ENVIRONMENT = env.str("ENVIRONMENT", default="production")
# Each secret production needs, from Vault or the environment: one line naming the first one missing.
for _name in REQUIRED_SECRETS:
    require(_name)
SIMPLE_JWT["SIGNING_KEY"] = require("JWT_SIGNING_KEY")  # not SECRET_KEY: JWT has its own key
# (the engine may already be django-prometheus' counting subclass of Django's PostgreSQL engine)
if not DATABASES["default"]["ENGINE"].endswith(".postgresql"):
    raise SystemExit("configuration error: DATABASE_URL must point to PostgreSQL in production")
# Executions need a broker that survives restarts and redelivers unacknowledged tasks.
if not CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://", "amqp://", "amqps://")):
    raise SystemExit("configuration error: CELERY_BROKER_URL must point to Redis or RabbitMQ in production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise SystemExit("configuration error: the environment variable ALLOWED_HOSTS is required (see .env.example)")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# TLS ends at the proxy, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Lax"

if STATIC_STORAGE == "local":  # s3: the bucket's manifest storage (base.py)
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}

# Staff sign in to the admin with a TOTP code too (django-otp); ADMIN_2FA_REQUIRED=false only for a break-glass.
ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=True)

# JSON log lines on stdout by default (common.logging reads LOG_FORMAT and ENVIRONMENT when logging starts).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
