from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """Versioned workflow definitions and their asynchronous executions (run by Celery workers)."""

    name = "workflows"
    default_auto_field = "django.db.models.BigAutoField"
