from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: database backups, restores, verification drills and their schedule."""

    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from ops import checks  # noqa: F401  (registers the system checks)
