from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared helpers: base model, problem+json errors, pagination, throttling, observability."""

    name = "common"

    def ready(self):
        # Celery signal handlers (request id into task headers, task log context, worker metrics and tracing).
        from common import celery_observability  # noqa: F401
