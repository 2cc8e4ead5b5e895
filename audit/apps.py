from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit trail: events, model history (django-auditlog), the sealed hash chain, retention.

    A sink: it imports no domain app. Apps register their models for history (`audit.registry.track`) and call
    `audit.recording.record` for facts that are not model changes.
    """

    name = "audit"

    def ready(self):
        from django.db.models.signals import post_migrate

        from audit import celery  # noqa: F401  (the actor travels with Celery tasks)
        from audit.groups import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="audit.auditors_group")
