"""Credentials that act as a person, held by apps above accounts (identity's API tokens), registered from ready().

`register("api_tokens", revoke)`: `revoke(user)` ends every such credential of the person and returns how many.
A password change and an erasure call `revoke_all`, so that a stolen password's tokens die with it.
"""

from collections.abc import Callable
from typing import Any

Revoke = Callable[[Any], int]  # revoke(user) -> how many were revoked

REVOKERS: dict[str, Revoke] = {}


def register(name: str, revoke: Revoke) -> None:
    REVOKERS[name] = revoke


def revoke_all(user) -> dict[str, int]:
    """Revoke every registered kind of credential of the user: {"<name>_revoked": count}."""
    return {f"{name}_revoked": revoke(user) for name, revoke in REVOKERS.items()}
