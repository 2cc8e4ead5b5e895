from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users and authentication, and the person's data subject requests (accounts.gdpr)."""

    name = "accounts"

    def ready(self):
        from axes.signals import user_locked_out
        from django.db.models.signals import post_delete, post_save

        # Admin TOTP devices: who has one and when it changed, never the key.
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts import lockout, tokens
        from accounts.gdpr import erasure, export
        from audit import retention
        from audit.registry import track
        from ops import restore_hooks

        track(TOTPDevice, include_fields=["user", "name", "confirmed", "digits", "step", "tolerance"])
        # A lockout (admin or API sign-in) is an audit event; axes' own signal is the one place both pass.
        user_locked_out.connect(lockout.on_locked_out, dispatch_uid="accounts.lockout.on_locked_out")

        # The history shows that an email or name changed, never its value (they are personal data).
        track(
            self.get_model("User"),
            pseudonymous=True,
            include_fields=["email", "full_name", "is_active", "is_staff", "is_superuser", "email_verified_at"],
            mask_fields=["email", "full_name"],
        )
        # A changed or deleted user is read again by the next request (accounts.tokens.JWTAuthentication).
        user = self.get_model("User")
        post_save.connect(tokens.forget_user, sender=user, dispatch_uid="accounts.forget_user.save")
        post_delete.connect(tokens.forget_user, sender=user, dispatch_uid="accounts.forget_user.delete")
        retention.register("exports", "exports", export.data_exports_purge)
        # A restore of a backup older than an erasure erases the person again (ops cannot import accounts).
        restore_hooks.register("erasures", pending=erasure.erasures_pending, reapply=erasure.erasures_reapply)
