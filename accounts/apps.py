from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users and authentication."""

    name = "accounts"

    def ready(self):
        from audit.registry import track

        # The history shows that an email or name changed, never its value (they are personal data).
        track(
            self.get_model("User"),
            pseudonymous=True,
            include_fields=["email", "full_name", "is_active", "is_staff", "is_superuser"],
            mask_fields=["email", "full_name"],
        )
