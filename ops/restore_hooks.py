"""What must be done again after a restore, registered by the app that knows it (ops imports no domain app).

accounts registers the erasure ledger: an erasure recorded after the backup was taken must be applied again to
the restored database before the restore reports success, or the restore would bring an erased person back.

A registry rather than a Django signal, because the restore needs an answer from each hook: how many records it
re-applied (reported by the command and kept on RestoreResult), and its failure, which must fail the restore,
not be swallowed or logged; it is also how audit.retention.register and audit.selectors.register_scope work.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AfterRestore:
    """One kind of record to re-apply: `pending(since=)` counts those recorded from the backup's start on (known
    before restoring), `reapply(since=)` applies them to the restored app database and returns how many."""

    name: str
    pending: Callable[..., int]
    reapply: Callable[..., int]


HOOKS: dict[str, AfterRestore] = {}


def register(name: str, *, pending: Callable[..., int], reapply: Callable[..., int]) -> None:
    """`register("erasures", pending=..., reapply=...)`, from the owning app's AppConfig.ready()."""
    HOOKS[name] = AfterRestore(name, pending, reapply)


def hooks() -> list[AfterRestore]:
    return list(HOOKS.values())
