"""Settings shared by every environment, and every default: the environment modules (local, test, production)
only set plain values that differ or refuse to start without a value; nothing here is built twice.

Every value comes from the process environment through config/env.py. The test suite's own defaults (its
PostgreSQL, Redis and broker) are environment defaults too, set by pytest-env in pyproject.toml.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from corsheaders.defaults import default_headers as default_cors_headers
from csp.constants import NONCE, NONE, SELF

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
    "csp",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "common",
    "accounts",
    "projects",
    "identity",
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
    # Content-Security-Policy (django-csp), Permissions-Policy: headers of every response, see "Security headers".
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
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
        # Overrides of django.contrib.admin's own templates (admin/login.html): the admin app comes first in
        # INSTALLED_APPS, so an app's templates/ cannot override them; this folder is searched before every app.
        "DIRS": [BASE_DIR / "templates"],
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
    # Same engine, with django-pg-zero-downtime-migrations' schema editor: migrations take no long lock
    # (common/db/__init__.py; docs/operations.md, "Zero-downtime releases").
    DATABASES["default"]["ENGINE"] = "common.db.postgresql"
# Every migration statement waits at most this long for a lock (then fails, and the Job retries) and, apart from
# the ones that may take long without blocking (CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT), runs at most this
# long: a migration queued behind a long transaction never holds up the queries queued behind it. Unsafe operations
# (a column rewrite, ADD COLUMN NOT NULL...) warn rather than raise: third-party apps' migrations (axes,
# django-celery-beat, oauth2_provider) contain some, harmless on their empty tables at install; our own migrations
# are held to the expand/contract rules by django-migration-linter in `make lint` instead.
ZERO_DOWNTIME_MIGRATIONS_LOCK_TIMEOUT = env.str("MIGRATIONS_LOCK_TIMEOUT", default="2s")
ZERO_DOWNTIME_MIGRATIONS_STATEMENT_TIMEOUT = env.str("MIGRATIONS_STATEMENT_TIMEOUT", default="2s")
ZERO_DOWNTIME_MIGRATIONS_FLEXIBLE_STATEMENT_TIMEOUT = True
ZERO_DOWNTIME_MIGRATIONS_RAISE_FOR_UNSAFE = False
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

# Static files (docs/operations.md#caching-and-cdn). Admin and API-docs assets are served by the app itself
# (whitenoise, at /static/); production adds the manifest: hashed names, sent with a far-future Cache-Control.
# STATIC_CDN_URL (absolute, ending in "/", e.g. https://cdn.example.com/static/) makes pages link them on a CDN whose
# origin is this app (the same path) or, with STATIC_STORAGE=s3, the bucket STATIC_S3_BUCKET (collectstatic uploads).
STATIC_CDN_URL = env.str("STATIC_CDN_URL", default="")
if STATIC_CDN_URL and not (STATIC_CDN_URL.startswith(("https://", "http://")) and STATIC_CDN_URL.endswith("/")):
    raise SystemExit("configuration error: STATIC_CDN_URL must be an absolute URL ending in / (see .env.example)")
STATIC_URL = STATIC_CDN_URL or "static/"
STATIC_ROOT: Path | None = Path(env.str("STATIC_ROOT", default="") or BASE_DIR / "var" / "static")
STATIC_STORAGE = env.str("STATIC_STORAGE", default="local")
if STATIC_STORAGE not in ("local", "s3"):
    raise SystemExit("configuration error: STATIC_STORAGE must be local or s3 (see .env.example)")
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

# A second copy of every backup in another bucket, region or endpoint (ops.services.replica, "Geographic
# redundancy" in docs/disaster-recovery.md): off when BACKUP_REPLICA_STORAGE is unset. "s3" takes its own bucket,
# region, endpoint, credentials and KMS key; "local" a folder (a second volume, or the tests).
BACKUP_REPLICA_STORAGE = env.str("BACKUP_REPLICA_STORAGE", default="")
BACKUP_REPLICA_BUCKET = env.str("BACKUP_REPLICA_BUCKET", default="")
BACKUP_REPLICA_REGION = env.str("BACKUP_REPLICA_REGION", default="") or None
BACKUP_REPLICA_ENDPOINT_URL = env.str("BACKUP_REPLICA_ENDPOINT_URL", default="") or None
BACKUP_REPLICA_ACCESS_KEY_ID = secret("BACKUP_REPLICA_ACCESS_KEY_ID") or None
BACKUP_REPLICA_SECRET_ACCESS_KEY = secret("BACKUP_REPLICA_SECRET_ACCESS_KEY") or None
BACKUP_REPLICA_KMS_KEY_ID = env.str("BACKUP_REPLICA_KMS_KEY_ID", default="")
BACKUP_REPLICA_LOCAL_DIR = env.str("BACKUP_REPLICA_LOCAL_DIR", default="")
if BACKUP_REPLICA_STORAGE == "s3":
    STORAGES["backups_replica"] = {
        "BACKEND": "ops.s3.BackupS3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_REPLICA_BUCKET,
            "endpoint_url": BACKUP_REPLICA_ENDPOINT_URL,
            "region_name": BACKUP_REPLICA_REGION,
            "access_key": BACKUP_REPLICA_ACCESS_KEY_ID,
            "secret_key": BACKUP_REPLICA_SECRET_ACCESS_KEY,
            "default_acl": None,
            "file_overwrite": False,
            "object_parameters": (
                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": BACKUP_REPLICA_KMS_KEY_ID}
                if BACKUP_REPLICA_KMS_KEY_ID
                else {}
            ),
        },
    }
elif BACKUP_REPLICA_STORAGE == "local":
    STORAGES["backups_replica"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": BACKUP_REPLICA_LOCAL_DIR,
            "directory_permissions_mode": 0o700,
            "file_permissions_mode": 0o600,
        },
    }

if STATIC_STORAGE == "s3":
    STATIC_S3_BUCKET = env.str("STATIC_S3_BUCKET", default="")
    if not STATIC_S3_BUCKET or not STATIC_CDN_URL:
        raise SystemExit(
            "configuration error: STATIC_STORAGE=s3 needs STATIC_S3_BUCKET and STATIC_CDN_URL (see .env.example)"
        )
    _static = urlsplit(STATIC_CDN_URL)
    # Hashed names in the bucket under the CDN URL's path (the manifest too, read by each process once), linked
    # as STATIC_CDN_URL + name: the CDN in front of the bucket, or the bucket's own URL. Public, unsigned URLs:
    # these are the admin's and the docs' assets, nothing private.
    STORAGES["staticfiles"] = {
        "BACKEND": "common.static_storage.StaticS3Storage",
        "OPTIONS": {
            "bucket_name": STATIC_S3_BUCKET,
            "location": _static.path.strip("/"),
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "default_acl": None,
            "querystring_auth": False,
            "custom_domain": _static.netloc,
            "url_protocol": f"{_static.scheme}:",
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,  # "path" for some stores
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
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

# --- Mail (docs/operations.md#mail): verification links and invitations, sent by Celery tasks ---------------------
# EMAIL_URL in django-environ's form: smtp+tls://user:password@host:587, smtps://...:465, smtp://host:25, or
# consolemail:// (the default: mails are printed by the worker, for a laptop). A secret (its password): Vault or env.
EMAIL_URL = secret("EMAIL_URL", "consolemail://")
_email = env.email_url_config(EMAIL_URL)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
# Seconds before a silent SMTP server counts as a failure (the task then retries); Django's default waits forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="AI Assistant <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The client application the links in mails open; the token travels in the fragment (#token=...), which browsers
# never send to a server, so it reaches no access log and no Referer header.
FRONTEND_URL = env.str("FRONTEND_URL", default="http://localhost:8000").rstrip("/")
# Email verification links (accounts.verification: signed, nothing stored) are valid this long.
EMAIL_VERIFICATION_MAX_AGE_HOURS = env.int("EMAIL_VERIFICATION_MAX_AGE_HOURS", default=72)
# Project invitations (projects.invitations) expire after this many days.
INVITATION_EXPIRY_DAYS = env.int("INVITATION_EXPIRY_DAYS", default=7)

# Celery beat reads its schedule from the database (django-celery-beat), editable in the admin.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Prometheus collectors computed at scrape time, registered by the /metrics view (dotted paths).
METRICS_EXTRA_COLLECTORS = [
    "ops.metrics.BackupCollector",
    "audit.metrics.AuditCollector",
    "projects.quotas.QuotaCollector",
]

# The reverse proxies in front of the app (CIDRs): X-Forwarded-For is read only when the connecting address is in
# one of them, right to left past every trusted hop (common.http.client_ip). Empty: the header is never read.
# Used wherever the client address matters (throttling, lockout, audit, the metrics allow-list), and by gunicorn's
# forwarded_allow_ips (config/gunicorn.conf.py reads the same variable).
TRUSTED_PROXIES = networks("TRUSTED_PROXIES")

# Request bodies: larger than this answers 413 (Django's own cap, and common.parsers' for the API's JSON); JSON
# nested deeper than API_JSON_MAX_DEPTH (arrays and objects) answers 400, before any code recurses over it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2621440)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=64)

# CORS (django-cors-headers): only these origins (scheme://host[:port]), only under /api/, never with cookies
# (the API authenticates with bearer tokens). Empty: no cross-origin access at all.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 3600
# The API's own request headers (version negotiation, idempotency) on top of django-cors-headers' defaults.
CORS_ALLOW_HEADERS = (*default_cors_headers, "api-version", "idempotency-key", "x-request-id")
CORS_EXPOSE_HEADERS = ["Deprecation", "Sunset", "Link", "Retry-After", "X-Request-ID"]

REST_FRAMEWORK: dict[str, Any] = {
    # Personal API tokens (aia_), OAuth2 access tokens (aio_), then JWT sessions: each class only takes its own.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "identity.authentication.ApiTokenAuthentication",
        "identity.authentication.OAuthClientAuthentication",
        "accounts.tokens.SessionJWTAuthentication",
    ],
    # GrantPermission enforces a token's scope and the views' token_access (common.grants).
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "common.permissions.GrantPermission"],
    "DEFAULT_RENDERER_CLASSES": ["common.api_versions.drf.VersionedJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "common.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["common.throttling.AnonThrottle", "common.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/minute"),
        "user": env.str("THROTTLE_USER", default="1000/minute"),
        "auth": env.str("THROTTLE_AUTH", default="10/minute"),
        # Verification mails asked for again, per user (each one is a mail to an address that may not be theirs).
        "email": env.str("THROTTLE_EMAIL", default="3/hour"),
        # POST /o/token/ per client address (identity.views): a service needs one token per OAUTH_ACCESS_TOKEN_TTL.
        "oauth_token": env.str("THROTTLE_OAUTH_TOKEN", default="30/minute"),
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
# The user of an access token is read through the cache for this long (accounts.tokens.JWTAuthentication: any
# save of the user drops it). Only with the shared Redis cache: a per-process cache could not be told by another
# process (a command, a worker) that the user changed. 0 reads the database on every request.
JWT_USER_CACHE_SECONDS = env.int("JWT_USER_CACHE_SECONDS", default=30 if REDIS_URL else 0)
# Hot reads in the shared cache (issue 14, docs/operations.md#caching-and-cdn), on only with Redis as above:
# a user's project list responses (common.read_cache: per user, dropped on every write that changes them), and
# which row is a workflow's current version (immutable: a new version is a new key). 0 turns either off.
PROJECT_LIST_CACHE_SECONDS = env.int("PROJECT_LIST_CACHE_SECONDS", default=30 if REDIS_URL else 0)
WORKFLOW_VERSION_CACHE_SECONDS = env.int("WORKFLOW_VERSION_CACHE_SECONDS", default=300 if REDIS_URL else 0)

# Personal API tokens (identity app, docs/security.md#api-tokens-and-oauth2-clients): lifetime in days when the
# request gives none, and at most; random bytes of a token (and of an OAuth2 access token); last_used_at is
# written at most once per this many seconds per token.
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
API_TOKEN_BYTES = 32
API_TOKEN_LAST_USED_INTERVAL = env.int("API_TOKEN_LAST_USED_INTERVAL", default=60)

# OAuth2 client credentials (django-oauth-toolkit) at /o/token/: short-lived access tokens, scopes read/write,
# hashed client secrets (Argon2, the first PASSWORD_HASHERS) and only a checksum of each token stored (RFC 9700).
# The swappable model's name, explicit so that migrations can refer to it (django-oauth-toolkit's own default).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER: dict[str, Any] = {
    "SCOPES": {"read": "Read the project's resources", "write": "Read and change the project's resources"},
    "DEFAULT_SCOPES": ["read"],
    "SCOPES_BACKEND_CLASS": "identity.oauth.ProjectClientScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_TTL", default=900),
    "ACCESS_TOKEN_GENERATOR": "identity.oauth.access_token_generator",
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # No implicit or password grant, tokens only in the Authorization header (RFC 9700's recommendations). The
    # authorization-code settings below are not used (clients get client_credentials only) but keep
    # `check --deploy` clean and a future code flow safe.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "CLIENT_SECRET_HASHER": "default",
    "APPLICATION_ADMIN_CLASS": "identity.admin.ApplicationAdmin",
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
# An execution claimed this many times in a row without a step finishing (its runner dies each time) is failed
# at the next claim instead of being run again.
WORKFLOW_MAX_CLAIMS = env.int("WORKFLOW_MAX_CLAIMS", default=5)
# The queue executions are published to; `celery -A config worker` consumes it by default.
WORKFLOW_EXECUTION_QUEUE = env.str("WORKFLOW_EXECUTION_QUEUE", default="celery")
# http steps: hosts (exact "name" or "name:port", lower-case) exempt from the SSRF guard's address checks.
WORKFLOW_HTTP_ALLOWED_HOSTS = [host.lower() for host in env.list("WORKFLOW_HTTP_ALLOWED_HOSTS", default=[])]
WORKFLOW_HTTP_MAX_RESPONSE_BYTES = env.int("WORKFLOW_HTTP_MAX_RESPONSE_BYTES", default=1024 * 1024)
# Workflow templates are rendered (and checked at save time) in renderer processes under these limits
# (workflows/templating/isolation.py, docs/security.md#template-sandbox): memory a render may allocate over the
# renderer's own, CPU seconds per render (RLIMIT_CPU, whole seconds), wall-clock seconds before the renderer is
# killed, and renderer processes per web or worker process.
TEMPLATE_MEMORY_LIMIT_MB = env.int("TEMPLATE_MEMORY_LIMIT_MB", default=64)
TEMPLATE_CPU_SECONDS = env.int("TEMPLATE_CPU_SECONDS", default=2)
TEMPLATE_TIMEOUT_SECONDS = env.float("TEMPLATE_TIMEOUT_SECONDS", default=5.0)
TEMPLATE_RENDERER_PROCESSES = env.int("TEMPLATE_RENDERER_PROCESSES", default=2)
# llm steps: an OpenAI-compatible Chat Completions endpoint chosen by the operator (not SSRF-guarded).
LLM_API_BASE_URL = env.str("LLM_API_BASE_URL", default="https://api.openai.com/v1")
LLM_API_KEY = secret("LLM_API_KEY")
LLM_DEFAULT_MODEL = env.str("LLM_DEFAULT_MODEL", default="gpt-4o-mini")
# Per-project daily quotas (UTC days; 0 = unlimited), overridable per project in the admin. Registration is open
# and llm steps spend the server's API key, so one sign-up must not be able to spend without bound. 1,000
# executions a day is about one every 90 s around the clock, far above interactive use; 200,000 LLM tokens a day
# is a few hundred typical calls (a few US dollars a day on a small model) - docs/operations.md, "Quotas".
QUOTA_EXECUTIONS_PER_DAY = env.int("QUOTA_EXECUTIONS_PER_DAY", default=1000)
QUOTA_LLM_TOKENS_PER_DAY = env.int("QUOTA_LLM_TOKENS_PER_DAY", default=200_000)

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
# Celery's Django fixup closes every connection, and with Django's pool the whole pool, before and after every task
# unless this is set: then only every 2 x this many tasks. The pool is per process and opened after the fork (the
# fixup still closes what a child inherits), so closing it per task only costs a new connection per task (10 % of
# a worker's time in bench/executions.py). config/celery.py hands each task's connection back to the pool instead.
CELERY_DB_REUSE_MAX = 10**9
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
    # Expired OAuth2 access tokens (django-oauth-toolkit's cleartokens).
    "identity-clear-expired-oauth-tokens": {"task": "identity.clear_expired_oauth_tokens", "schedule": 24 * 3600},
    # The audit chain: seal every minute (seal lag alert at 10 min), verify daily, retention daily.
    "audit-seal": {"task": "audit.seal", "schedule": 60.0},
    "audit-verify": {"task": "audit.verify", "schedule": 24 * 3600},
    "retention-run": {"task": "audit.retention", "schedule": 24 * 3600},
    # The restore drill (ops.services.drill): restores the newest backup (from the replica when there is one, the
    # failover path) into a scratch database and exports the measured time as the RTO estimate.
    "ops-restore-drill": {"task": "ops.restore_drill", "schedule": 24 * 3600},
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
    # Invitations that were accepted, revoked or expired this many days ago are deleted (they hold an email).
    "invitations": env.int("RETENTION_INVITATIONS_DAYS", default=30),
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# --- Security headers (docs/security.md#security-headers) --------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# The full URL goes to this site's own pages only; other sites see nothing (not even the origin).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4's format): everything from this origin only; inline <script> and <style>
# only with the response's nonce (the home page, Swagger UI and ReDoc pages put it on theirs; ReDoc hands it to
# styled-components). The one relaxation is per view, with its reason: ReDoc's bundled CSS, by hash (api_urls.py).
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # Swagger UI and ReDoc draw icons as data: URIs; ReDoc's search runs in a blob: worker.
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "worker-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Assets on a CDN (STATIC_CDN_URL): its origin joins this one for the kinds of file collectstatic holds.
if STATIC_CDN_URL:
    _static_origin = "{0.scheme}://{0.netloc}".format(urlsplit(STATIC_CDN_URL))
    for _directive in ("script-src", "style-src", "img-src", "font-src"):
        CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive].append(_static_origin)
# (not a setting named CSP_REPORT_URI: django-csp 4 refuses the 3.x names)
if _csp_report_uri := env.str("CSP_REPORT_URI", default=""):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [_csp_report_uri]
# Permissions-Policy (django-permissions-policy, which refuses a misspelt feature at start): no page of this site
# uses a device or sensor, so every one is off, for the site and anything it could embed.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- Single sign-on for staff: OpenID Connect into the admin (accounts/sso/, docs/security.md#single-sign-on) -----
# Off unless OIDC_RP_CLIENT_ID is set; then the secret, the staff group and the provider (its discovery URL, or the
# issuer and the authorization, token and JWKS endpoints) are required. mozilla-django-oidc reads OIDC_* settings.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = secret("OIDC_RP_CLIENT_SECRET")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
# The issuer's URL or its /.well-known/openid-configuration; explicit endpoints below win over what it says.
OIDC_OP_DISCOVERY_URL = env.str("OIDC_OP_DISCOVERY_URL", default="")
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
# The claim that lists the person's groups at the IdP (a list of names), and the two groups that matter here.
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_STAFF_GROUP = env.str("OIDC_STAFF_GROUP", default="")
OIDC_AUDITOR_GROUP = env.str("OIDC_AUDITOR_GROUP", default="")
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10.0)
OIDC_VERIFY_SSL = True
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
# The callback URL given to the provider is built from the request's host (ALLOWED_HOSTS; behind the proxy,
# SECURE_PROXY_SSL_HEADER makes it https); a `next` page must be on this host (mozilla-django-oidc checks it).
if OIDC_ENABLED:  # after axes' backend and Django's (AUTHENTICATION_BACKENDS above)
    AUTHENTICATION_BACKENDS.append("accounts.sso.backend.StaffOidcBackend")
    _oidc_missing = [
        name
        for name, value in (
            ("OIDC_RP_CLIENT_SECRET", OIDC_RP_CLIENT_SECRET),
            ("OIDC_STAFF_GROUP", OIDC_STAFF_GROUP),
            (
                "OIDC_OP_DISCOVERY_URL (or OIDC_OP_ISSUER, OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_TOKEN_ENDPOINT and "
                "OIDC_OP_JWKS_ENDPOINT)",
                OIDC_OP_DISCOVERY_URL
                or all((OIDC_OP_ISSUER, OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_TOKEN_ENDPOINT, OIDC_OP_JWKS_ENDPOINT)),
            ),
        )
        if not value
    ]
    if _oidc_missing:
        raise SystemExit(
            f"configuration error: OIDC_RP_CLIENT_ID is set, so {_oidc_missing[0]} is required (see .env.example)"
        )

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
        "common.db.postgresql": "common.db.observed.postgresql",  # the same, with the zero-downtime schema editor
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
