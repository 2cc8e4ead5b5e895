from django.apps import AppConfig
from django.db.models.signals import post_delete


class WorkflowsConfig(AppConfig):
    """Versioned workflow definitions and their asynchronous executions (run by Celery workers)."""

    name = "workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts.gdpr import registry as gdpr
        from audit import retention
        from audit.registry import track
        from workflows import gdpr as parts
        from workflows import (
            selectors,
            tasks,  # noqa: F401  (registers the tasks: services queue them by name)
        )
        from workflows.services import execution_payloads_purge

        # Definitions live in their immutable versions; executions keep their status transitions only (their
        # inputs and outputs are data, with a retention of their own, not audit facts).
        track(
            self.get_model("Workflow"),
            include_fields=["project", "name", "description", "is_active", "version"],
            mask_fields=["description"],  # free text: see projects/apps.py
        )
        track(self.get_model("WorkflowVersion"), include_fields=["workflow", "version", "created_by"])
        track(self.get_model("Execution"), include_fields=["status", "cancel_requested"])
        post_delete.connect(
            selectors.forget_version, sender=self.get_model("WorkflowVersion"), dispatch_uid="workflows.forget_version"
        )
        retention.register("execution_payloads", "execution_payloads", execution_payloads_purge)
        gdpr.register("workflows", export=parts.workflows_export)
        gdpr.register("workflow_versions", export=parts.workflow_versions_export)
        gdpr.register("executions", export=parts.executions_export)
