"""The settings' secrets: from Vault's KV v2 when VAULT_ADDR is set, else (or where Vault lacks a key) from the
environment, else a default that only local settings define. Precedence: Vault, environment, default.

Read once per process. `VAULT_REQUIRED` (the default under production settings) makes an unreachable Vault, a
refused login or a missing secret stop the process at start with one line naming Vault, the address and the path;
otherwise that line is a warning and the environment is used. Every value read from Vault is taught to the
redaction module, so it never reaches a log line or a stored output.
"""

import functools
import os
import sys
from dataclasses import dataclass, field

import environ

from common import redaction
from common.vault import K8S_TOKEN_PATH, Vault, VaultConfig, VaultError, for_process

# The settings that may come from Vault (each optional there).
NAMES = (
    "SECRET_KEY",
    "JWT_SIGNING_KEY",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "BACKUP_REPLICA_ACCESS_KEY_ID",
    "BACKUP_REPLICA_SECRET_ACCESS_KEY",
    "LLM_API_KEY",
    "METRICS_TOKEN",
    "AUDIT_HMAC_KEY",
    "SECRETS_ENCRYPTION_KEY",
    "EMAIL_URL",
    "OIDC_RP_CLIENT_SECRET",
)
VAULT, ENV = "vault", "env"

env = environ.Env()


@dataclass
class Source:
    """The secrets found, where each came from, and the Vault they came from (if any)."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    vault: Vault | None = None
    location: str = ""
    warning: str = ""


def vault_config() -> VaultConfig:
    return VaultConfig(
        addr=env.str("VAULT_ADDR", default=""),
        auth_method=env.str("VAULT_AUTH_METHOD", default="token"),
        token=env.str("VAULT_TOKEN", default=""),
        role_id=env.str("VAULT_ROLE_ID", default=""),
        secret_id=env.str("VAULT_SECRET_ID", default=""),
        secret_id_file=env.str("VAULT_SECRET_ID_FILE", default=""),
        k8s_role=env.str("VAULT_K8S_ROLE", default=""),
        k8s_token_path=env.str("VAULT_K8S_TOKEN_PATH", default=K8S_TOKEN_PATH),
        namespace=env.str("VAULT_NAMESPACE", default=""),
    )


def _production() -> bool:
    # Which settings module is loading decides VAULT_REQUIRED's default (as gunicorn.conf.py decides LOG_FORMAT's).
    return os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".production")


@functools.cache
def load() -> Source:
    """Read the secrets (once per process)."""
    source = Source()
    for name in NAMES:
        value = env.str(name, default="")
        if value:
            source.values[name], source.origins[name] = value, ENV
    config = vault_config()
    if not config.addr:
        return source
    mount = env.str("VAULT_KV_MOUNT", default="secret")
    environment = env.str("ENVIRONMENT", default="production" if _production() else "local")
    path = env.str("VAULT_SECRETS_PATH", default="") or f"aiassistant/{environment}"
    source.location = f"{mount}/{path}"
    try:
        vault = for_process(config)
        found = vault.read_kv(mount=mount, path=path)
    except VaultError as exc:
        line = f"{exc} (secrets at {mount}/{path})"
        if env.bool("VAULT_REQUIRED", default=_production()):
            raise SystemExit(f"configuration error: {line}") from None
        source.warning = f"warning: {line}; using the environment"
        sys.stderr.write(source.warning + "\n")
        return source
    source.vault = vault
    for name in NAMES:
        if found.get(name):
            source.values[name], source.origins[name] = found[name], VAULT
    redaction.learn(found.values())
    return source


def secret(name: str, default: str = "") -> str:
    """A secret setting's value: Vault's, else the environment's, else `default`."""
    return load().values.get(name) or default
