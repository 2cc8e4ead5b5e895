from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: database backups, restores, verification drills and their schedule."""

    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps

        from audit.registry import track
        from ops import checks  # noqa: F401  (registers the system checks)

        track(self.get_model("BackupRecord"), include_fields=["status", "kind", "key", "verify_ok", "restored_at"])
        # An edited backup schedule is an audit fact.
        track(
            apps.get_model("django_celery_beat", "PeriodicTask"),
            include_fields=["name", "task", "enabled", "interval", "crontab", "args", "kwargs", "queue"],
        )
        track(apps.get_model("django_celery_beat", "IntervalSchedule"))
        track(apps.get_model("django_celery_beat", "CrontabSchedule"))
