"""The embedded default: one laptop, SQLite under var/, in-process cache, DEBUG on."""

from config.env import env

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, SIMPLE_JWT, observe_backends

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="local-insecure-key-only-for-the-embedded-default-0123456789")
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
# Prometheus may scrape a laptop's /metrics from the same machine.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
# runserver and the Celery worker (make run) share the SQLite file: WAL lets readers go on while one process
# writes, IMMEDIATE transactions take the write lock up front (no "database is locked" half-way through).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
observe_backends(DATABASES, CACHES)

# Static files straight from the apps (no collectstatic needed on a laptop).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
