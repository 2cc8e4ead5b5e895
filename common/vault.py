"""HashiCorp Vault through hvac: one authenticated client per process, renewed at half its TTL.

Used by config/ when the settings load (KV v2 secrets, dynamic database credentials) and by the app at run time
(the transit engine for project secrets). It needs no Django settings (it runs while they are being built).

- Login: `token` (VAULT_TOKEN), `approle` (VAULT_ROLE_ID with VAULT_SECRET_ID or VAULT_SECRET_ID_FILE) or
  `kubernetes` (VAULT_K8S_ROLE with the service account token file). Once per process, never per read: a forked
  process (a Celery pool child) keeps its parent's token and logs in again only if Vault refuses it.
- Renewal: a daemon thread renews the token at half its TTL and logs in again when renewal is refused; a failure
  is a log line and a metric, never an exception in a request.
- Errors are one line naming Vault, the address and the path: never a token, never a secret value.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hvac
import requests
from hvac import exceptions as hvac_errors
from prometheus_client import Counter

logger = logging.getLogger("aiassistant.vault")

K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a secret
LOGINS = Counter("aiassistant_vault_logins_total", "Logins to Vault made by this process.", ["result"])
RENEWALS = Counter("aiassistant_vault_token_renewals_total", "Vault token renewals.", ["result"])
_CALL_ERRORS = (hvac_errors.VaultError, requests.RequestException, OSError)


class VaultError(Exception):
    """Vault could not be used; the message names Vault, the address and what failed (never a secret)."""


@dataclass(frozen=True)
class VaultConfig:
    """How to reach and log in to Vault (read from the environment by config/env.py)."""

    addr: str
    auth_method: str = "token"
    token: str = field(default="", repr=False)
    role_id: str = ""
    secret_id: str = field(default="", repr=False)
    secret_id_file: str = ""
    k8s_role: str = ""
    k8s_token_path: str = K8S_TOKEN_PATH
    namespace: str = ""
    timeout: float = 5.0

    def describe(self) -> str:
        return f"Vault at {self.addr}"


def _read(path: str, what: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        raise VaultError(f"cannot read {what} from {path}: {exc.strerror}") from None


class Vault:
    """An authenticated Vault client for this process."""

    def __init__(self, config: VaultConfig):
        self.config = config
        self._lock = threading.RLock()
        self._client: hvac.Client | None = None
        self._token_ttl = 0.0
        self._renewer_pid: int | None = None

    # -- login ---------------------------------------------------------------------------------------------------

    def _new_client(self) -> hvac.Client:
        return hvac.Client(url=self.config.addr, timeout=self.config.timeout, namespace=self.config.namespace or None)

    def login(self) -> None:
        """Authenticate by the configured method (one call to Vault); raise VaultError with one line."""
        config = self.config
        client = self._new_client()
        try:
            if config.auth_method == "token":
                if not config.token:
                    raise VaultError(f"{config.describe()}: VAULT_AUTH_METHOD=token needs VAULT_TOKEN")
                client.token = config.token
                self._token_ttl = float(client.auth.token.lookup_self()["data"].get("ttl") or 0)
            elif config.auth_method == "approle":
                secret_id = config.secret_id or (
                    _read(config.secret_id_file, "the AppRole secret id") if config.secret_id_file else ""
                )
                auth = client.auth.approle.login(role_id=config.role_id, secret_id=secret_id)["auth"]
                self._token_ttl = float(auth.get("lease_duration") or 0)
            elif config.auth_method == "kubernetes":
                jwt = _read(config.k8s_token_path, "the service-account token")
                auth = client.auth.kubernetes.login(role=config.k8s_role, jwt=jwt)["auth"]
                self._token_ttl = float(auth.get("lease_duration") or 0)
            else:
                raise VaultError(f"{config.describe()}: unknown VAULT_AUTH_METHOD {config.auth_method!r}")
        except VaultError:
            LOGINS.labels(result="failed").inc()
            raise
        except _CALL_ERRORS as exc:
            LOGINS.labels(result="failed").inc()
            raise VaultError(f"{config.describe()}: {config.auth_method} login failed ({_reason(exc)})") from None
        LOGINS.labels(result="ok").inc()
        with self._lock:
            self._client = client

    @property
    def client(self) -> hvac.Client:
        with self._lock:
            if self._client is None:
                self.login()
            return self._client

    def call(self, what: str, operation: Callable[[hvac.Client], Any]) -> Any:
        """Run one Vault operation; if Vault refuses the token (expired, revoked), log in once and try again."""
        self.ensure_renewal()
        try:
            return operation(self.client)
        except hvac_errors.Forbidden:
            if self.config.auth_method == "token":
                raise VaultError(f"{self.config.describe()}: {what} refused (permission denied)") from None
            logger.info("Vault refused the token for %s; logging in again", what)
            self.login()
        except _CALL_ERRORS as exc:
            raise VaultError(f"{self.config.describe()}: {what} failed ({_reason(exc)})") from None
        try:
            return operation(self.client)
        except _CALL_ERRORS as exc:
            raise VaultError(f"{self.config.describe()}: {what} failed ({_reason(exc)})") from None

    # -- renewal -------------------------------------------------------------------------------------------------

    def ensure_renewal(self) -> None:
        """Start this process's renewal thread (once per process: a forked child starts its own)."""
        with self._lock:
            if self._renewer_pid == os.getpid():
                return
            self._renewer_pid = os.getpid()
        threading.Thread(target=self._renew_forever, name="vault-renewal", daemon=True).start()

    def _renew_forever(self) -> None:
        while True:
            time.sleep(max(self._token_ttl / 2, 1.0) if self._token_ttl else 300.0)
            self.renew_once()

    def renew_once(self) -> bool:
        """Renew the token, or log in again when Vault refuses to; never raises (a log line and a metric)."""
        try:
            data = self.client.auth.token.renew_self()
            self._token_ttl = float((data.get("auth") or {}).get("lease_duration") or self._token_ttl)
            RENEWALS.labels(result="renewed").inc()
            return True
        except _CALL_ERRORS as exc:
            logger.warning("Vault token renewal refused (%s); logging in again", _reason(exc))
        try:
            self.login()
            RENEWALS.labels(result="relogin").inc()
            return True
        except VaultError as exc:
            RENEWALS.labels(result="failed").inc()
            logger.error("Vault token renewal and login failed: %s", exc)
            return False

    # -- engines -------------------------------------------------------------------------------------------------

    def read_kv(self, *, mount: str, path: str) -> dict[str, str]:
        """The latest version of a KV v2 secret's data."""

        def read(client):
            return client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)

        try:
            response = self.call(f"reading {mount}/{path}", read)
        except VaultError as exc:
            if "InvalidPath" in str(exc) or "not found" in str(exc).lower():
                raise VaultError(f"{self.config.describe()}: no secret at {mount}/{path}") from None
            raise
        return {key: str(value) for key, value in response["data"]["data"].items()}

    def token_info(self) -> dict:
        """The token's TTL and policies (vault_check)."""
        return self.call("token lookup", lambda client: client.auth.token.lookup_self())["data"]

    def database_credentials(self, role: str, mount: str = "database") -> dict:
        """New dynamic credentials: {"username", "password", "lease_id", "lease_duration"}."""
        response = self.call(
            f"reading {mount}/creds/{role}",
            lambda client: client.secrets.database.generate_credentials(name=role, mount_point=mount),
        )
        return {**response["data"], "lease_id": response["lease_id"], "lease_duration": response["lease_duration"]}

    def renew_lease(self, lease_id: str) -> int:
        response = self.call("lease renewal", lambda client: client.sys.renew_lease(lease_id=lease_id))
        return int(response.get("lease_duration") or 0)

    def transit(self, operation: str, key: str, **params) -> dict:
        """encrypt / decrypt / rewrap through the transit engine (mount `transit`)."""
        methods = {"encrypt": "encrypt_data", "decrypt": "decrypt_data", "rewrap": "rewrap_data"}
        return self.call(
            f"transit {operation} with key {key}",
            lambda client: getattr(client.secrets.transit, methods[operation])(name=key, **params)["data"],
        )


def _reason(exc: BaseException) -> str:
    """A short reason that never echoes a request (no token, no body)."""
    if isinstance(exc, hvac_errors.VaultError):
        return type(exc).__name__
    if isinstance(exc, requests.ConnectionError):
        return "unreachable"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


_process_vault: Vault | None = None


def for_process(config: VaultConfig) -> Vault:
    """The process's Vault client (the settings make it; the app asks for it again by `current()`)."""
    global _process_vault
    if _process_vault is None or _process_vault.config != config:
        _process_vault = Vault(config)
    return _process_vault


def current() -> Vault | None:
    """The process's Vault client, or None when the settings did not configure Vault."""
    return _process_vault
