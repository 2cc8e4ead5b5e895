"""Encryption at rest of values the application must read back (project secrets): two backends, one interface.

- Vault's transit engine, when VAULT_TRANSIT_KEY is set: ciphertext ``vault:v<n>:...``; the key never leaves
  Vault, and a rotation there is followed by `rewrap` (Vault re-encrypts under the newest key version).
- Fernet otherwise, under SECRETS_ENCRYPTION_KEY: a comma-separated list of Fernet keys, the first encrypts and
  all decrypt (MultiFernet), so a key is rotated by putting a new one first and rewrapping every value.

The backend of a stored value is read from its prefix, so values written before a move to transit stay readable
and `rewrap` moves them. Errors are one line (EncryptionError) naming the backend and the key's setting, never a
value or a key.
"""

import base64
import binascii
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks

from common import vault

TRANSIT_PREFIX = "vault:v"


class EncryptionError(Exception):
    """A value could not be encrypted or decrypted; the message never holds a value or a key."""


@functools.lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    parts = [part.strip() for part in keys.split(",") if part.strip()]
    if not parts:
        raise EncryptionError("SECRETS_ENCRYPTION_KEY is not set (and VAULT_TRANSIT_KEY is not either)")
    fernets = []
    for position, part in enumerate(parts, start=1):
        try:
            fernets.append(Fernet(part))
        except (ValueError, binascii.Error):
            raise EncryptionError(
                f"SECRETS_ENCRYPTION_KEY: key {position} of {len(parts)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes: `Fernet.generate_key()`)"
            ) from None
    return MultiFernet(fernets)


def _fernet_keys() -> MultiFernet:
    return _fernet(settings.SECRETS_ENCRYPTION_KEY or "")


def _transit_key() -> str:
    return settings.VAULT_TRANSIT_KEY


def _transit(operation: str, **params) -> dict:
    client = vault.current()
    if client is None:
        raise EncryptionError("VAULT_TRANSIT_KEY is set but Vault is not configured (VAULT_ADDR)")
    try:
        return client.transit(operation, _transit_key(), mount_point=settings.VAULT_TRANSIT_MOUNT, **params)
    except vault.VaultError as exc:
        raise EncryptionError(str(exc)) from None


def backend() -> str:
    """Which backend encrypts new values: "transit" or "fernet"."""
    return "transit" if _transit_key() else "fernet"


def is_transit(ciphertext: str) -> bool:
    return ciphertext.startswith(TRANSIT_PREFIX)


def encrypt(plaintext: str) -> str:
    """The ciphertext of a text value under the current backend and newest key."""
    data = plaintext.encode()
    if _transit_key():
        return _transit("encrypt", plaintext=base64.b64encode(data).decode())["ciphertext"]
    return _fernet_keys().encrypt(data).decode()


def decrypt(ciphertext: str) -> str:
    """The text value of a ciphertext written by either backend."""
    if is_transit(ciphertext):
        if not _transit_key():
            raise EncryptionError("a value is encrypted by Vault's transit engine but VAULT_TRANSIT_KEY is not set")
        return base64.b64decode(_transit("decrypt", ciphertext=ciphertext)["plaintext"]).decode()
    try:
        return _fernet_keys().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise EncryptionError(
            "a value does not decrypt with any key of SECRETS_ENCRYPTION_KEY (a key was removed too early?)"
        ) from None


def rewrap(ciphertext: str) -> str:
    """The same value encrypted under the newest key of the current backend (moving Fernet values to transit)."""
    if _transit_key():
        if is_transit(ciphertext):
            return _transit("rewrap", ciphertext=ciphertext)["ciphertext"]
        return encrypt(decrypt(ciphertext))
    if is_transit(ciphertext):
        raise EncryptionError("a value is encrypted by Vault's transit engine but VAULT_TRANSIT_KEY is not set")
    try:
        return _fernet_keys().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise EncryptionError(
            "a value does not decrypt with any key of SECRETS_ENCRYPTION_KEY (a key was removed too early?)"
        ) from None


@checks.register(checks.Tags.security)
def check_encryption_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check`: a malformed SECRETS_ENCRYPTION_KEY is an error before the first secret is written (its
    absence is production's REQUIRED_SECRETS check)."""
    if settings.VAULT_TRANSIT_KEY or not settings.SECRETS_ENCRYPTION_KEY:
        return []
    try:
        _fernet(settings.SECRETS_ENCRYPTION_KEY)
    except EncryptionError as exc:
        return [checks.Error(str(exc), id="common.E010")]
    return []
