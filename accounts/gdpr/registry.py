"""The parts of a person's data that the apps above accounts hold, registered from their AppConfig.ready().

`register("projects", export=..., erase=...)`: `export(user)` returns the JSON value stored under that key of the
export document; `erase(user)` does that app's share of an erasure inside its transaction and returns counts for
the erasure's audit event. Parts run in registration order (INSTALLED_APPS order: projects before workflows).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Export = Callable[[Any], Any]  # export(user) -> JSON value
Erase = Callable[[Any], dict[str, int]]  # erase(user) -> {what: how many}


@dataclass(frozen=True)
class Part:
    """One app's share of a person's data: its key in the export document, and what an erasure does to it."""

    name: str
    export: Export | None = None
    erase: Erase | None = None


PARTS: dict[str, Part] = {}


def register(name: str, *, export: Export | None = None, erase: Erase | None = None) -> None:
    """Add (or replace, on a second ready()) a part of the export document and of the erasure."""
    PARTS[name] = Part(name, export, erase)


def parts() -> list[Part]:
    return list(PARTS.values())
