"""The one home of redaction: what counts as a credential, and how it is removed from text and structures.

Used by the log filter (common.logging), the runner's scrub of what it stores (workflows.runner) and the http and
llm step types. One marker, one list of credential names; the uses differ only in the parameters of `Redactor`:

- `keys`: which mapping keys hide their whole value. Logs hide any key that contains a credential word
  (`CREDENTIAL_WORDS`): a log line never needs them. Stored outputs hide only the exact credential header names
  (`CREDENTIAL_HEADERS`): they are the user's data, where `usage.total_tokens` or a `password_policy` field are
  legitimate and must survive.
- `patterns`: whether credential-looking text (bearer tokens, JWTs, passwords in URLs, `key=value` pairs) is
  rewritten. On for logs; off for stored outputs, whose text is the user's data (an http step may fetch a page
  that documents `Authorization: Bearer ...`), and where the known secret values are replaced instead.

Secret values come from settings, from Vault at start (`learn`), and at run time from the project secrets an
execution decrypts (`scope` and `learn_for_scope`): stored outputs hide the execution's own, logs and traces also
the last ones this process decrypted (`for_traces`: values only, for span attributes).

Structures of any depth are handled without recursion.
"""

import collections
import contextlib
import contextvars
import enum
import functools
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MARKER = "[redacted]"

# The credential words: a header, field or log key whose name contains one of them carries a secret.
CREDENTIAL_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|authori[sz]ation|authenticat|auth[-_]?header|"
    r"cookie|session|csrf|credential|private[-_]?key|signature|signing[-_]?key|jwt|bearer"
)
_CREDENTIAL_NAME = re.compile(CREDENTIAL_WORDS, re.IGNORECASE)
# Challenges, not credentials: they name a scheme and a realm.
_NOT_CREDENTIALS = frozenset({"www-authenticate", "proxy-authenticate"})
# Headers (and JSON keys) that are credentials by their exact name, whatever else a structure holds.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "api_key"}
)


def is_credential_name(name: str) -> bool:
    """Whether a header, field or key of this name may carry a credential (its value is never kept)."""
    lowered = name.lower()
    return lowered not in _NOT_CREDENTIALS and bool(_CREDENTIAL_NAME.search(lowered))


class KeyRule(enum.Enum):
    """Which mapping keys hide their whole value (see the module docstring for why there are three)."""

    NONE = "none"
    CREDENTIAL_HEADERS = "exact credential header names"
    CREDENTIAL_WORDS = "any name containing a credential word"

    def hides(self, key: object) -> bool:
        if not isinstance(key, str) or self is KeyRule.NONE:
            return False
        if self is KeyRule.CREDENTIAL_HEADERS:
            return key.lower() in CREDENTIAL_HEADERS
        return is_credential_name(key)


_KEY_VALUE = re.compile(
    r"(?P<key>[\w-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|authorization|"
    r"credential|private[-_]?key|signing[-_]?key)[\w-]*)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?!\[redacted\])(?:bearer\s+|basic\s+)?[^\s\"'&,;})\]]+)",  # an already redacted value stays
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
# Cheap first pass: text without any of these cannot match the patterns above (most log lines).
_SUSPECT = re.compile(
    r"bearer|basic|token|eyJ|pass|pwd|secret|key|auth|credential|://[^/\s@]*:[^/\s@]*@", re.IGNORECASE
)

MIN_SECRET_LENGTH = 4


def _expand(secrets: Iterable[str]) -> tuple[str, ...]:
    """The values to replace, longest first; "Bearer abc" also yields "abc" (the token alone may be echoed)."""
    found = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
    for secret in list(found):
        scheme, _, token = secret.partition(" ")
        if token and len(token) >= MIN_SECRET_LENGTH and scheme.isalpha():
            found.add(token)
    return tuple(sorted(found, key=len, reverse=True))


class Redactor:
    """Removes secret values, credential keys and (optionally) credential-looking text from what it is given."""

    def __init__(self, secrets: Iterable[str] = (), *, keys: KeyRule, patterns: bool):
        self.secrets = _expand(secrets)
        self.keys = keys
        self.patterns = patterns

    def text(self, text: str) -> str:
        for value in self.secrets:
            if value in text:
                text = text.replace(value, MARKER)
        if not self.patterns or not _SUSPECT.search(text):
            return text
        text = _JWT.sub(MARKER, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MARKER}", text)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MARKER}@", text)
        return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MARKER}", text)

    def _leaf(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))

    def value(self, value: Any) -> Any:
        """A redacted copy of a structure (mappings, lists, tuples, sets) of any depth; leaves become text."""
        root: list[Any] = [None]
        stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
        rebuild: list[tuple[Any, Any, type]] = []  # tuples and sets, built once their items are redacted
        while stack:
            parent, slot, item = stack.pop()
            if isinstance(item, Mapping):
                out: dict = {}
                parent[slot] = out
                for key, child in item.items():
                    safe_key = self.text(key) if isinstance(key, str) else key
                    if self.keys.hides(key):
                        out[safe_key] = MARKER
                    else:
                        out[safe_key] = None
                        stack.append((out, safe_key, child))
            elif isinstance(item, list | tuple | set | frozenset):
                items = list(item)
                parent[slot] = items
                if not isinstance(item, list):
                    rebuild.append((parent, slot, type(item)))
                stack.extend((items, index, child) for index, child in enumerate(items))
            else:
                parent[slot] = self._leaf(item)
        for parent, slot, kind in reversed(rebuild):  # innermost first
            parent[slot] = kind(parent[slot])
        return root[0]


# --- the secrets this deployment knows ----------------------------------------------------------------------------

# Settings whose values are secrets: any text containing one of the values has it replaced.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "LLM_API_KEY",
    "METRICS_TOKEN",
    "JWT_SIGNING_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "BACKUP_REPLICA_SECRET_ACCESS_KEY",
    "EMAIL_HOST_PASSWORD",
)
# Shorter configured values would redact ordinary words; real secrets are long.
_MIN_CONFIGURED_LENGTH = 8
_configured: tuple[str, ...] | None = None
_learned: set[str] = set()


def learn(values) -> None:
    """Secret values read at start from elsewhere than settings (Vault): redacted like configured ones."""
    _learned.update(v for v in values if isinstance(v, str) and len(v) >= _MIN_CONFIGURED_LENGTH)
    _forget_configured()


def _forget_configured(**kwargs) -> None:
    global _configured
    _configured = None


def configured_secrets() -> tuple[str, ...]:
    """The secret values configured in settings, read once (again after a setting changes, in tests)."""
    global _configured
    if _configured is not None:
        return _configured
    try:
        from django.conf import settings
        from django.core.signals import setting_changed

        if not settings.configured:
            return tuple(sorted(_learned))
        values = [getattr(settings, name, "") for name in SECRET_SETTINGS]
        values.append(getattr(settings, "SIMPLE_JWT", {}).get("SIGNING_KEY", ""))
        setting_changed.connect(_forget_configured, dispatch_uid="common.redaction.forget_configured")
    except Exception:  # redaction (of log lines above all) must never fail because of settings
        return ()
    values += sorted(_learned)
    _configured = tuple(v for v in values if isinstance(v, str) and len(v) >= _MIN_CONFIGURED_LENGTH)
    return _configured


# --- secrets learned at run time (project secrets decrypted for an execution) ---------------------------------------

# The values decrypted for the unit of work in progress (an execution): a mutable set shared by every thread that
# copies this context (the runner's step threads), so a value learned by the runner is redacted in their output too.
_scope: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("redaction_scope", default=None)
# Logs and traces are the operators', not a project's: they also hide the values this process decrypted lately,
# whatever the context (a span exported later by a background thread, a log line of a library's own thread).
_RECENT_MAX = 1000
_recent: collections.OrderedDict[str, None] = collections.OrderedDict()
_recent_lock = threading.Lock()


@contextlib.contextmanager
def scope():
    """A unit of work whose learned secrets (`learn_for_scope`) are redacted from what it stores and logs."""
    token = _scope.set(set())
    try:
        yield
    finally:
        _scope.reset(token)


def learn_for_scope(values: Iterable[str]) -> None:
    """Values (project secrets) to redact from this unit of work's stored outputs and from every log and trace.

    Stored outputs use only the unit's own values: another project's output never changes because of them.
    """
    found = [value for value in values if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH]
    learned = _scope.get()
    if learned is not None:
        learned.update(found)
    with _recent_lock:
        for value in found:
            _recent[value] = None
            _recent.move_to_end(value)
        while len(_recent) > _RECENT_MAX:
            _recent.popitem(last=False)


def scope_secrets() -> tuple[str, ...]:
    learned = _scope.get()
    return tuple(sorted(learned)) if learned else ()


def _recent_secrets() -> tuple[str, ...]:
    with _recent_lock:
        return tuple(_recent)


@functools.lru_cache(maxsize=32)
def _cached(secrets: tuple[str, ...], keys: KeyRule, patterns: bool) -> Redactor:
    return Redactor(secrets, keys=keys, patterns=patterns)


def for_logs() -> Redactor:
    """The broad redactor of log lines and traces: configured secrets, the run-time secrets of this unit of work
    and this process, every credential key, credential-looking text."""
    return _cached((*configured_secrets(), *scope_secrets(), *_recent_secrets()), KeyRule.CREDENTIAL_WORDS, True)


def for_traces() -> Redactor:
    """Span attributes: the known secret values only (the run-time ones of this process too); no key or pattern
    rules, which would rewrite SQL statements and URLs that hold no secret."""
    return _cached((*configured_secrets(), *scope_secrets(), *_recent_secrets()), KeyRule.NONE, False)


def for_storage(extra_secrets: Iterable[str] = ()) -> Redactor:
    """The narrow redactor of what executions store: secret values (the unit of work's run-time ones included) and
    credential headers only."""
    return _cached((*configured_secrets(), *scope_secrets(), *extra_secrets), KeyRule.CREDENTIAL_HEADERS, False)
