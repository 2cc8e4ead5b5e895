"""Where the settings read the process environment (12-factor configuration); the app reads django.conf.settings.

Three places read os.environ themselves, each with a comment saying why: gunicorn's config file (loaded by the
gunicorn master before Django exists), prometheus_client (PROMETHEUS_MULTIPROC_DIR, read at its import), and
ops' engines (the environment handed on to pg_dump and pg_restore). wsgi.py, asgi.py and manage.py only choose the
settings module.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def require(name: str) -> str:
    """Return a mandatory variable, or stop the process with one line that names it."""
    value = env.str(name, default="")
    if not value:
        raise SystemExit(f"configuration error: the environment variable {name} is required (see .env.example)")
    return value
