from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """Projects and their members with roles."""

    name = "projects"

    def ready(self):
        from accounts.gdpr import registry as gdpr
        from audit.registry import track
        from audit.selectors import register_scope
        from projects import gdpr as parts
        from projects.selectors import audit_scope

        # Free-text descriptions are where people type personal data (an email, a name): the history records that
        # one changed, not its text, so that an erasure leaves nothing of the person in the append-only history.
        track(
            self.get_model("Project"),
            include_fields=[
                "name",
                "slug",
                "description",
                "created_by",
                "quota_executions_per_day",  # an override set in the admin is an audit fact
                "quota_llm_tokens_per_day",
            ],
            mask_fields=["description"],
        )
        track(self.get_model("Membership"), pseudonymous=True, include_fields=["project", "user", "role", "invited_by"])
        # A project's owners and admins read its audit events.
        register_scope(audit_scope)
        # A person's export and erasure (accounts.gdpr cannot import this app).
        gdpr.register("memberships", export=parts.memberships_export)
        gdpr.register("projects", export=parts.projects_export, erase=parts.projects_erase)
