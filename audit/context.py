"""Who is acting, from where, in the current unit of work (a request, a Celery task, a command).

The actor is resolved when an audit row is written, not when the unit of work starts: for an API call DRF
authenticates the bearer token inside the view, after every middleware has run, so the request's user is read
at write time (django-auditlog's own middleware reads it too early: jazzband/django-auditlog#711).
"""

import contextlib
import contextvars
import getpass
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from common.grants import grant_of

SYSTEM = "system"
USER = "user"
ANONYMOUS = "anonymous"  # a request without credentials (registration, a failed login)


@dataclass(frozen=True)
class Actor:
    """Who did it: a user (by id), the system (`system:beat`, `system:cli:<os user>`), or anonymous."""

    kind: str
    id: str | None = None
    label: str = ""

    @classmethod
    def user(cls, user_id) -> "Actor":
        return cls(kind=USER, id=str(user_id))

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(kind=SYSTEM, label=label)


@dataclass
class Unit:
    """The current unit of work: an explicit actor, or the request whose user is the actor once known."""

    request: Any = None
    actor: Actor | None = None
    ip: str | None = None
    user_agent: str = ""
    # Model changes written during this unit of work ({"<model> <pk>": {field: [old, new]}}), so that the
    # request's event links to them without reading the history back.
    changes: dict[str, dict] = field(default_factory=dict)
    # The project the models written belong to (their history entries' additional_data).
    project_id: str | None = None
    # Set by a selector when its 404 hides an existing object from a non-member (a permission fact).
    hidden_from: str | None = None


_unit: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("aiassistant_audit_unit", default=None)
# The actor of a process's work outside any unit: `system:cli` unless the process says otherwise (beat does).
_process_actor: "Actor | None" = None


def act_as_process(actor: "Actor") -> None:
    """Make `actor` the default of this whole process (Celery beat: every task it sends is `system:beat`)."""
    global _process_actor
    _process_actor = actor


def current() -> Unit | None:
    return _unit.get()


@contextlib.contextmanager
def unit(**fields) -> Iterator[Unit]:
    """`with audit.context.unit(actor=Actor.system("system:beat")):` for the block."""
    token = _unit.set(Unit(**fields))
    try:
        yield _unit.get()  # type: ignore[misc]
    finally:
        _unit.reset(token)


def begin(**fields) -> contextvars.Token:
    """Start a unit of work that ends with `end(token)` (Celery's prerun and postrun signals)."""
    return _unit.set(Unit(**fields))


def end(token: contextvars.Token) -> None:
    try:
        _unit.reset(token)
    except ValueError:  # begun in another context (a thread pool): forget it
        _unit.set(None)


def cli_actor() -> Actor:
    """A management command or shell: `system:cli` with the operating-system user."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor.system(f"system:cli:{who}")


def current_actor() -> Actor:
    """The actor of the current unit of work; outside one, the process's (beat) or `system:cli` (a command)."""
    work = _unit.get()
    if work is None:
        return _process_actor or cli_actor()
    if work.actor is not None:
        return work.actor
    user = getattr(work.request, "user", None) if work.request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        # A request made with an API or OAuth2 token names the credential (common.grants), not only the user.
        grant = grant_of(user)
        label = f"{grant.kind} {grant.credential_id}" if grant is not None else ""
        return Actor(kind=USER, id=str(user.pk), label=label)
    return Actor(kind=ANONYMOUS)


def correlation_id() -> str | None:
    """AUDITLOG_CID_GETTER: a history entry's correlation id is its request's id (X-Request-ID)."""
    from common.logging import current_ids

    return current_ids()[0]
