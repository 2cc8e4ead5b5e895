from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users and authentication, and the person's data subject requests (accounts.gdpr)."""

    name = "accounts"

    def ready(self):
        from accounts.gdpr import export
        from audit import retention
        from audit.registry import track

        # The history shows that an email or name changed, never its value (they are personal data).
        track(
            self.get_model("User"),
            pseudonymous=True,
            include_fields=["email", "full_name", "is_active", "is_staff", "is_superuser"],
            mask_fields=["email", "full_name"],
        )
        retention.register("exports", "exports", export.data_exports_purge)
