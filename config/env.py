"""Where the settings read the process environment (12-factor configuration); the app reads django.conf.settings.

Four places read os.environ themselves, each with a comment saying why: gunicorn's config file (loaded by the
gunicorn master before Django exists), prometheus_client (PROMETHEUS_MULTIPROC_DIR, read at its import), ops'
engines (the environment handed on to pg_dump and pg_restore), and workflows.templating.isolation (the few
variables handed on to a template renderer process). wsgi.py, asgi.py and manage.py only choose the
settings module.
"""

import datetime
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def require(name: str) -> str:
    """Return a mandatory variable, or stop the process with one line that names it.

    A secret (config.secrets.NAMES) may come from Vault instead of the environment.
    """
    from config import secrets

    value = secrets.secret(name) if name in secrets.NAMES else env.str(name, default="")
    if not value:
        raise SystemExit(f"configuration error: the environment variable {name} is required (see .env.example)")
    return value


def moment(name: str) -> datetime.datetime | None:
    """An ISO 8601 date-time variable as an aware datetime (UTC when no offset is given), None when unset.

    A value that does not parse stops the process with one line naming the variable.
    """
    value = env.str(name, default="")
    return _parse_moment(name, value) if value else None


def windows(name: str) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """A comma-separated list of ISO 8601 intervals `start/end`, e.g. `2027-03-02T10:00Z/2027-03-02T11:00Z`."""
    found = []
    for item in env.list(name, default=[]):
        start, sep, end = item.partition("/")
        begin, until = _parse_moment(name, start), _parse_moment(name, end) if sep else None
        if until is None or until <= begin:
            raise SystemExit(f"configuration error: {name} must list start/end intervals with end after start")
        found.append((begin, until))
    return found


def networks(name: str) -> list[str]:
    """A comma-separated list of IP networks in CIDR form (a bare address is one host); a wrong one stops the process.

    Strict, as gunicorn's forwarded_allow_ips is: `10.0.0.1/8` (host bits set) is refused, `10.0.0.0/8` is not.
    """
    import ipaddress

    found = []
    for item in env.list(name, default=[]):
        try:
            found.append(str(ipaddress.ip_network(item.strip())))
        except ValueError:
            raise SystemExit(f"configuration error: {name} must list IP networks (CIDRs), not {item!r}") from None
    return found


def _parse_moment(name: str, value: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise SystemExit(f"configuration error: {name} is not an ISO 8601 date-time: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)
