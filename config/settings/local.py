"""The embedded default: one laptop, SQLite under var/, in-process cache, DEBUG on."""

from config.env import env

from .base import *  # noqa: F403
from .base import SIMPLE_JWT

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="local-insecure-key-only-for-the-embedded-default-0123456789")
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
