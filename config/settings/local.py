"""The embedded default: one laptop, SQLite under var/, in-process cache, DEBUG on."""

from config.env import env

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, SIMPLE_JWT, observe_backends

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="local-insecure-key-only-for-the-embedded-default-0123456789")
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
# Prometheus may scrape a laptop's /metrics from the same machine.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
observe_backends(DATABASES, CACHES)

# Static files straight from the apps (no collectstatic needed on a laptop).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
