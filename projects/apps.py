from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ProjectsConfig(AppConfig):
    """Projects and their members with roles."""

    name = "projects"

    def ready(self):
        from accounts.gdpr import registry as gdpr
        from audit import retention
        from audit.registry import track
        from audit.selectors import register_scope
        from projects import cache
        from projects import gdpr as parts
        from projects.selectors import audit_scope
        from projects.services import invitations_purge

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
        # A secret's history is its metadata: the ciphertext is never in it (nor, of course, the value). Replacing
        # and using a secret change no tracked field: they are audit events (projects.services), like creation and
        # deletion.
        track(
            self.get_model("ProjectSecret"),
            include_fields=["project", "name", "description", "created_by"],
            mask_fields=["description"],
        )
        # The token's hash never enters the history; the invited address is masked (personal data).
        track(
            self.get_model("Invitation"),
            pseudonymous=True,
            include_fields=[
                "project",
                "email",
                "role",
                "status",
                "invited_by",
                "mailed_at",
                "accepted_by",
                "revoked_at",
            ],
            mask_fields=["email"],
        )
        retention.register("invitations", "invitations", invitations_purge)
        # The cached project lists (common.read_cache): dropped for the users a write concerns.
        project, membership = self.get_model("Project"), self.get_model("Membership")
        post_save.connect(cache.forget_project_members, sender=project, dispatch_uid="projects.cache.project")
        post_save.connect(cache.forget_member, sender=membership, dispatch_uid="projects.cache.member.save")
        post_delete.connect(cache.forget_member, sender=membership, dispatch_uid="projects.cache.member.delete")
        # A project's owners and admins read its audit events.
        register_scope(audit_scope)
        # A person's export and erasure (accounts.gdpr cannot import this app).
        gdpr.register("memberships", export=parts.memberships_export)
        gdpr.register("projects", export=parts.projects_export, erase=parts.projects_erase)
        gdpr.register("project_secrets", export=parts.project_secrets_export)
        gdpr.register("invitations", export=parts.invitations_export, erase=parts.invitations_erase)
