import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

# Tracing first: its Django middleware must be in MIDDLEWARE before the handler loads it (no-op without an
# OTLP endpoint).
from common.tracing import setup_tracing

setup_tracing()

application = get_asgi_application()
