import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

# Tracing first: its Django middleware must be in MIDDLEWARE before the handler loads it (no-op without an
# OTLP endpoint).
from common.tracing import setup_tracing

try:
    setup_tracing()
    application = get_wsgi_application()
except SystemExit as exc:
    # A configuration error (the settings' one line): exit 3, which gunicorn's master reads as "worker failed to
    # boot" and stops on, rather than starting workers that fail the same way forever.
    if isinstance(exc.code, str):
        sys.stderr.write(exc.code + "\n")
    raise SystemExit(3) from None
