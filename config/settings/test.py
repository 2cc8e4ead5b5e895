"""Test settings: real PostgreSQL and Redis (make test starts them), fast hashing."""

from config.env import env

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, SIMPLE_JWT, celery_transport_options, observe_backends

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"
SIMPLE_JWT["SIGNING_KEY"] = "test-jwt-signing-key-not-for-production-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/aiassistant")}
DATABASES["default"]["CONN_MAX_AGE"] = 0

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": env.str("REDIS_URL", default="redis://127.0.0.1:6379/15"),
        "KEY_PREFIX": "aiassistant-test",
    }
}
# Generous rates so that ordinary tests never hit them; throttling tests lower them.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "10000/minute", "user": "10000/minute", "auth": "10000/minute"}

# Celery: a real Redis broker (tests start real worker processes; never eager mode).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/12")
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(CELERY_BROKER_URL)

# Observability: counting database/cache wrappers as in production; workers serve no metrics port in tests.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
observe_backends(DATABASES, CACHES)
