"""Settings shared by every environment, and every default: the environment modules (local, test, production)
only set plain values that differ or refuse to start without a value; nothing here is built twice.

Every value comes from the process environment through config/env.py. The test suite's own defaults (its
PostgreSQL, Redis and broker) are environment defaults too, set by pytest-env in pyproject.toml.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

from config.env import BASE_DIR, env, moment, networks, windows
from config.secrets import NAMES, secret
from config.secrets import load as secrets_source

# Secrets (config/secrets.py): from Vault's KV v2 when VAULT_ADDR is set, else the environment.
SECRET_KEY = secret("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
ENVIRONMENT = env.str("ENVIRONMENT", default="local")
APP_VERSION = env.str("APP_VERSION", default="0.1.0")

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin, its site asking staff for a TOTP code (ADMIN_2FA_REQUIRED)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "common",
    "accounts",
    "projects",
    "workflows",
    "django_celery_beat",
    "ops",
    "auditlog",
    "audit",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "common.api_versions.negotiation.ApiVersionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified() (a TOTP device confirmed at sign-in): the admin requires it (ADMIN_2FA_REQUIRED).
    "django_otp.middleware.OTPMiddleware",
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.middleware.ApiProblemMiddleware",
    # Last, as axes asks: turns a locked-out admin sign-in into 429 (accounts.lockout.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, with a SQLite file under var/ as the embedded default.
DATABASES = {"default": env.db_url_config(secret("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"))}
# DATABASE_PASSWORD alone (in Vault) completes a DATABASE_URL given without it.
if secret("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = secret("DATABASE_PASSWORD")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # runserver and the Celery worker (make run) share the SQLite file: WAL lets readers go on while one process
    # writes, IMMEDIATE transactions take the write lock up front (no "database is locked" half-way through).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own psycopg 3 pool; it needs CONN_MAX_AGE = 0. The pool is per process:
    # size it as hosts x gunicorn workers x DB_POOL_MAX_SIZE (+ Celery workers) < max_connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if env.bool("DB_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
            # Connections are replaced after this many seconds (with Vault's dynamic credentials: below the lease).
            "max_lifetime": env.float("DB_POOL_MAX_LIFETIME", default=3600.0),
        }
# Dynamic PostgreSQL credentials from Vault's database secrets engine (common/db_credentials.py rotates them).
VAULT_DB_ROLE = env.str("VAULT_DB_ROLE", default="")
VAULT_DB_MOUNT = env.str("VAULT_DB_MOUNT", default="database")
if VAULT_DB_ROLE:
    from common import db_credentials

    db_credentials.configure(DATABASES["default"], role=VAULT_DB_ROLE, mount=VAULT_DB_MOUNT)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by every process: throttling needs that), else in-process.
REDIS_URL = secret("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="aiassistant"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "aiassistant"}}

AUTH_USER_MODEL = "accounts.User"
# AxesStandaloneBackend first: it refuses a locked-out sign-in before any password is hashed (accounts.lockout).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# --- Sign-in lockout (django-axes 8, accounts/lockout.py, docs/security.md) --------------------------------------
# Failures are counted per account and, separately, per client address; either count at the limit locks that
# account (or address) out of the admin's and the API's sign-in alike for the cool-off, counted from the lockout.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("AXES_COOLOFF_SECONDS", default=15 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# In the shared cache (Redis): counts expire with the cool-off, no table of addresses and emails to purge.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_RESET_ON_SUCCESS = True
# A refused attempt during a lockout does not extend it: Retry-After stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "common.http.client_ip"
AXES_USERNAME_CALLABLE = "accounts.lockout.username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_ENABLE_ADMIN = False  # the cache handler keeps no AccessAttempt rows to show
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address"]

# --- Two-factor authentication for the admin (django-otp TOTP, accounts/admin_site.py, docs/security.md) ---------
# Off by default here (local, tests); on by default in production. Staff enrol a TOTP device in the admin
# (OTP_TOTP > TOTP devices); the first superuser with `manage.py otp_totp_enroll EMAIL`.
ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="aiassistant-api")
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT: Path | None = BASE_DIR / "var" / "static"
# Admin and API-docs assets are served by the app itself (whitenoise); production adds the manifest.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Backups (ops app): "local" folder (embedded default) or "s3" (django-storages). See docs/disaster-recovery.md.
BACKUP_STORAGE = env.str("BACKUP_STORAGE", default="local")
BACKUP_LOCAL_DIR = env.str("BACKUP_LOCAL_DIR", default="") or str(BASE_DIR / "var" / "backups")
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=30)
BACKUP_S3_KMS_KEY_ID = env.str("BACKUP_S3_KMS_KEY_ID", default="")
# Where downloaded dumps are staged during restore/verify; default the system temp dir.
BACKUP_TEMP_DIR = env.str("BACKUP_TEMP_DIR", default="") or None
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_ACCESS_KEY_ID = secret("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = secret("AWS_SECRET_ACCESS_KEY") or None
if BACKUP_STORAGE == "s3":
    STORAGES["backups"] = {
        "BACKEND": "ops.s3.BackupS3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "default_acl": None,
            "file_overwrite": False,
            "object_parameters": (
                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": BACKUP_S3_KMS_KEY_ID} if BACKUP_S3_KMS_KEY_ID else {}
            ),
        },
    }
else:
    STORAGES["backups"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": BACKUP_LOCAL_DIR, "directory_permissions_mode": 0o700, "file_permissions_mode": 0o600},
    }

# Personal-data exports (accounts.gdpr, docs/compliance.md), kept RETENTION_DAYS["exports"] days: a private local
# folder by default; with BACKUP_STORAGE=s3 the backup bucket under the prefix exports/ (same credentials and
# encryption), so that an S3 deployment needs no second bucket.
EXPORTS_LOCAL_DIR = env.str("EXPORTS_LOCAL_DIR", default="") or str(BASE_DIR / "var" / "exports")
if BACKUP_STORAGE == "s3":
    STORAGES["exports"] = {
        "BACKEND": STORAGES["backups"]["BACKEND"],
        "OPTIONS": {**STORAGES["backups"]["OPTIONS"], "location": "exports"},
    }
else:
    STORAGES["exports"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": EXPORTS_LOCAL_DIR, "directory_permissions_mode": 0o700, "file_permissions_mode": 0o600},
    }

# Celery beat reads its schedule from the database (django-celery-beat), editable in the admin.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Prometheus collectors computed at scrape time, registered by the /metrics view (dotted paths).
METRICS_EXTRA_COLLECTORS = ["ops.metrics.BackupCollector", "audit.metrics.AuditCollector"]

# The reverse proxies in front of the app (CIDRs): X-Forwarded-For is read only when the connecting address is in
# one of them, right to left past every trusted hop (common.http.client_ip). Empty: the header is never read.
# Used wherever the client address matters (throttling, lockout, audit, the metrics allow-list), and by gunicorn's
# forwarded_allow_ips (config/gunicorn.conf.py reads the same variable).
TRUSTED_PROXIES = networks("TRUSTED_PROXIES")

# Request bodies: larger than this answers 413 (Django's own cap, and common.parsers' for the API's JSON); JSON
# nested deeper than API_JSON_MAX_DEPTH (arrays and objects) answers 400, before any code recurses over it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2621440)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=64)

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["common.api_versions.drf.VersionedJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["common.throttling.AnonThrottle", "common.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/minute"),
        "user": env.str("THROTTLE_USER", default="1000/minute"),
        "auth": env.str("THROTTLE_AUTH", default="10/minute"),
    },
    "EXCEPTION_HANDLER": "common.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "common.openapi.ApiAutoSchema",
    "DEFAULT_VERSIONING_CLASS": "common.api_versions.drf.ApiVersioning",
    "DEFAULT_VERSION": "1",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# API versions (common.api_versions, docs/api-versioning.md): a version's deprecation date adds Deprecation and
# Link headers to its responses; its sunset date adds Sunset and, once passed, makes it answer 410; brownouts are
# windows before the sunset during which it answers 410 already, so that clients notice early.
API_V1_DEPRECATION_DATE = moment("API_V1_DEPRECATION_DATE")
API_V1_SUNSET_DATE = moment("API_V1_SUNSET_DATE")
API_V1_BROWNOUTS = windows("API_V1_BROWNOUTS")
API_DEPRECATION_INFO_URL = env.str("API_DEPRECATION_INFO_URL", default="/api/v2/docs/")
# Forged CSRF on the admin answers Django's page; under /api/ a problem+json.
CSRF_FAILURE_VIEW = "common.views.csrf_failure"

SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TTL", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_TTL", default=7 * 24 * 3600)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    # Its own key, so that rotating SECRET_KEY (sessions, CSRF) and JWT are independent.
    "SIGNING_KEY": secret("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUDIENCE": env.str("JWT_AUDIENCE", default="aiassistant-api"),
    "ISSUER": env.str("JWT_ISSUER", default="aiassistant-api"),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "aiassistant-api",
    "DESCRIPTION": "Define AI-assistant workflows (HTTP calls, LLM prompts, data transforms) and run them.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "workflows.models.ExecutionStatus",
        "StepStatusEnum": "workflows.models.StepStatus",
        "DataExportStatusEnum": "accounts.models.ExportStatus",
    },
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, not a CDN's @latest: pinned code, pages
    # that work offline and under a strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Workflows: limits of an execution and of its steps (seconds and bytes).
WORKFLOW_EXECUTION_TIME_LIMIT = env.int("WORKFLOW_EXECUTION_TIME_LIMIT", default=600)
WORKFLOW_STEP_DEFAULT_TIMEOUT = env.float("WORKFLOW_STEP_DEFAULT_TIMEOUT", default=30.0)
WORKFLOW_STEP_OUTPUT_MAX_BYTES = env.int("WORKFLOW_STEP_OUTPUT_MAX_BYTES", default=256 * 1024)
WORKFLOW_INPUT_MAX_BYTES = env.int("WORKFLOW_INPUT_MAX_BYTES", default=256 * 1024)
# The runner refreshes Execution.heartbeat_at this often; a running execution whose heartbeat is older
# than WORKFLOW_HEARTBEAT_STALE_AFTER is taken over by the next delivery or by the recovery sweep.
WORKFLOW_HEARTBEAT_INTERVAL = env.float("WORKFLOW_HEARTBEAT_INTERVAL", default=5.0)
WORKFLOW_HEARTBEAT_STALE_AFTER = env.float("WORKFLOW_HEARTBEAT_STALE_AFTER", default=60.0)
WORKFLOW_RECOVERY_INTERVAL = env.float("WORKFLOW_RECOVERY_INTERVAL", default=60.0)
# The queue executions are published to; `celery -A config worker` consumes it by default.
WORKFLOW_EXECUTION_QUEUE = env.str("WORKFLOW_EXECUTION_QUEUE", default="celery")
# http steps: hosts (exact "name" or "name:port", lower-case) exempt from the SSRF guard's address checks.
WORKFLOW_HTTP_ALLOWED_HOSTS = [host.lower() for host in env.list("WORKFLOW_HTTP_ALLOWED_HOSTS", default=[])]
WORKFLOW_HTTP_MAX_RESPONSE_BYTES = env.int("WORKFLOW_HTTP_MAX_RESPONSE_BYTES", default=1024 * 1024)
# llm steps: an OpenAI-compatible Chat Completions endpoint chosen by the operator (not SSRF-guarded).
LLM_API_BASE_URL = env.str("LLM_API_BASE_URL", default="https://api.openai.com/v1")
LLM_API_KEY = secret("LLM_API_KEY")
LLM_DEFAULT_MODEL = env.str("LLM_DEFAULT_MODEL", default="gpt-4o-mini")

# Celery (config/celery.py reads every CELERY_* setting). The embedded default needs no server: the
# filesystem transport under var/celery/ (make run starts the worker). Production: Redis or RabbitMQ.
CELERY_BROKER_URL = secret("CELERY_BROKER_URL", "filesystem://")
CELERY_FILESYSTEM_DIR = BASE_DIR / "var" / "celery"


CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
    # Unacknowledged messages come back after visibility_timeout (whole worker killed: nobody rejects them).
    # Duplicates are harmless (the runner's heartbeat lease and per-step records), so it may be shorter than an
    # execution; the restore sweep runs every interval x throttle seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_interval": env.int("CELERY_BROKER_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_BROKER_RESTORE_THROTTLE", default=10),
        "socket_timeout": 30,
        "socket_connect_timeout": 10,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = WORKFLOW_EXECUTION_QUEUE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The runner stops an execution at WORKFLOW_EXECUTION_TIME_LIMIT itself; these are the backstops.
CELERY_TASK_SOFT_TIME_LIMIT = WORKFLOW_EXECUTION_TIME_LIMIT + 30
CELERY_TASK_TIME_LIMIT = WORKFLOW_EXECUTION_TIME_LIMIT + 60
# On SIGTERM (deploys) the worker finishes or, after this many seconds, requeues its in-flight tasks.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=10.0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_BEAT_SCHEDULE = {
    "workflows-recover-stale-executions": {
        "task": "workflows.recover_stale_executions",
        "schedule": WORKFLOW_RECOVERY_INTERVAL,
    },
    # simplejwt's blacklist grows with every login and refresh; expired rows are useless (its flushexpiredtokens).
    "accounts-flush-expired-tokens": {"task": "accounts.flush_expired_tokens", "schedule": 24 * 3600},
    # The audit chain: seal every minute (seal lag alert at 10 min), verify daily, retention daily.
    "audit-seal": {"task": "audit.seal", "schedule": 60.0},
    "audit-verify": {"task": "audit.verify", "schedule": 24 * 3600},
    "retention-run": {"task": "audit.retention", "schedule": 24 * 3600},
}

# --- Vault (config/secrets.py, common/vault.py, docs/operations.md#vault) ----------------------------------------
VAULT_ADDR = env.str("VAULT_ADDR", default="")
# Project secrets are encrypted by Vault's transit engine with this key when set, else with Fernet under
# SECRETS_ENCRYPTION_KEY (a comma-separated list: the first encrypts, all decrypt, so a new key can be added).
VAULT_TRANSIT_KEY = env.str("VAULT_TRANSIT_KEY", default="")
VAULT_TRANSIT_MOUNT = env.str("VAULT_TRANSIT_MOUNT", default="transit")
SECRETS_ENCRYPTION_KEY = secret("SECRETS_ENCRYPTION_KEY")
# Where each secret setting came from ("vault" or "env"; a local default shows as "default"), for vault_check;
# the secrets that must exist (production lists them).
SECRET_NAMES = list(NAMES)
SECRET_ORIGINS = dict(secrets_source().origins)
VAULT_SECRETS_LOCATION = secrets_source().location
# The secrets production refuses to start without (project secrets need SECRETS_ENCRYPTION_KEY unless Vault's
# transit engine encrypts them); vault_check reports against this list under any settings.
REQUIRED_SECRETS = ["SECRET_KEY", "JWT_SIGNING_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"]
if not VAULT_TRANSIT_KEY:
    REQUIRED_SECRETS.append("SECRETS_ENCRYPTION_KEY")

# --- Audit trail (audit app, docs/compliance.md) -----------------------------------------------------------------
# AUDIT_ENABLED=0 exists for the benchmark's "off" side only: no history, no events.
AUDIT_ENABLED = env.bool("AUDIT_ENABLED", default=True)
# Keys the seals' HMAC and the hashes of personal values in the chain; never in the database (required in
# production; the local and test settings have their own).
AUDIT_HMAC_KEY = secret("AUDIT_HMAC_KEY")
# A row still without a sequence this long after the newest seal was taken is reported by audit_verify as inserted.
AUDIT_SEAL_GRACE_SECONDS = env.int("AUDIT_SEAL_GRACE_SECONDS", default=600)
AUDITLOG_LOGENTRY_MODEL = "audit.ModelHistory"
# django-auditlog's own migrations create its LogEntry table even when the model is swapped out for ours
# (its CreateModel does not declare the swap): without them no such table exists.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_MASK_CALLABLE = "audit.registry.mask"
AUDITLOG_CID_GETTER = "audit.context.correlation_id"
# Retention per data class, in days (audit.retention; retention_run daily by beat).
RETENTION_DAYS = {
    "execution_payloads": env.int("RETENTION_EXECUTION_PAYLOADS_DAYS", default=90),
    "audit_rows": env.int("RETENTION_AUDIT_ROWS_DAYS", default=400),
    "audit_personal": env.int("RETENTION_AUDIT_PERSONAL_DAYS", default=90),
    "login_failures": env.int("RETENTION_LOGIN_FAILURES_DAYS", default=90),
    "exports": env.int("RETENTION_EXPORTS_DAYS", default=7),
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Observability: metrics, JSON logs, tracing, health (docs/observability.md) ---------------------------------
# OBSERVABILITY_ENABLED=0 removes the metrics middleware and database/cache wrappers, the request log line and
# tracing (the benchmark's "off" run); /metrics and /health/ stay routed.
OBSERVABILITY_ENABLED = env.bool("OBSERVABILITY_ENABLED", default=True)
SERVICE_NAME = "aiassistant-api"
LOG_FORMAT = env.str("LOG_FORMAT", default="console")  # "json" or "console"; production defaults to json
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# One stdout handler; its formatter (JSON or console lines, by LOG_FORMAT) and the context filter (service,
# environment, version) read the final settings when Django configures logging, so no module rebuilds this.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "common.logging.ContextFilter"},
        "redact": {"()": "common.logging.RedactionFilter"},
    },
    "formatters": {"line": {"()": "common.logging.formatter_from_settings"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The request middleware writes one line per request with the route; django.server would repeat it.
        "django.server": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # Failing checks are reported by the health endpoints; one traceback per probe would flood the logs.
        "health_check": {"level": "ERROR"},
        # httpx logs every request URL at INFO, query string included: a key passed there would leak.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
# /metrics: `Authorization: Bearer <METRICS_TOKEN>`, or a client address (common.http.client_ip) in these CIDRs.
METRICS_TOKEN = secret("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Celery workers serve their metrics on this port (0: off); PROMETHEUS_MULTIPROC_DIR comes from the environment.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=9808)
# Tracing is on only when an OTLP endpoint is set (common.tracing.setup_tracing).
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default=SERVICE_NAME)

# Prometheus multiprocess mode (several gunicorn workers or Celery pool processes): prometheus_client itself reads
# this variable from the environment at import; the app reads it here for the directory's lifecycle.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

if OBSERVABILITY_ENABLED:
    INSTALLED_APPS.append("django_prometheus")
    MIDDLEWARE.insert(0, "common.middleware.RequestContextMiddleware")
    # django-prometheus' after-middleware, lean: see common.middleware.PrometheusMiddleware.
    MIDDLEWARE.append("common.middleware.PrometheusMiddleware")
    # django-prometheus' counting subclasses of the database engines and cache backends (they subclass Django's,
    # so connection pooling and every OPTIONS work unchanged).
    _PROMETHEUS_DB_ENGINES = {
        "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
        "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    }
    _PROMETHEUS_CACHE_BACKENDS = {
        "django_redis.cache.RedisCache": "django_prometheus.cache.backends.redis.RedisCache",
        "django.core.cache.backends.locmem.LocMemCache": "django_prometheus.cache.backends.locmem.LocMemCache",
    }
    for _database in DATABASES.values():
        _database["ENGINE"] = _PROMETHEUS_DB_ENGINES.get(_database["ENGINE"], _database["ENGINE"])
    for _cache in CACHES.values():
        _cache["BACKEND"] = _PROMETHEUS_CACHE_BACKENDS.get(_cache["BACKEND"], _cache["BACKEND"])
