from django.apps import AppConfig


class IdentityConfig(AppConfig):
    """Credentials for machines: personal API tokens and OAuth2 clients (client credentials) bound to a project."""

    name = "identity"

    def ready(self):
        from oauth2_provider.signals import app_authorized

        from accounts import credentials
        from accounts.gdpr import registry as gdpr
        from audit.registry import track
        from identity import gdpr as parts
        from identity import openapi, services  # noqa: F401  (openapi: registers the security schemes)

        # Metadata only: the hash never enters the history (nor does the Application's secret: not tracked).
        track(
            self.get_model("ApiToken"),
            include_fields=["user", "name", "scope", "project", "expires_at", "revoked_at"],
        )
        track(self.get_model("OAuthClient"), include_fields=["project", "name", "scope", "created_by"])
        # A password change and an erasure revoke the person's API tokens (accounts cannot import this app); an
        # erasure also deletes the OAuth2 clients they created (a client acts as its creator).
        credentials.register("api_tokens", services.api_tokens_revoke_all)
        gdpr.register("api_tokens", export=parts.api_tokens_export, erase=parts.oauth_clients_erase)
        # django-oauth-toolkit's own signal when /o/token/ issues an access token: the audit event.
        app_authorized.connect(services.oauth_token_issued, dispatch_uid="identity.oauth_token_issued")
