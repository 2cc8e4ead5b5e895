import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

# Tracing first: its Django middleware must be in MIDDLEWARE before the handler loads it (no-op without an
# OTLP endpoint).
from common.tracing import setup_tracing

setup_tracing()

application = get_wsgi_application()
