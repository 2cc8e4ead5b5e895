"""The one place the process environment is read (12-factor configuration)."""

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
