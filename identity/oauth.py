"""django-oauth-toolkit hooks (OAUTH2_PROVIDER in settings): how access tokens look, which scopes a client gets."""

import secrets

from django.conf import settings
from oauth2_provider.scopes import SettingsScopes

from common.grants import OAUTH_TOKEN_PREFIX, READ


def access_token_generator(request) -> str:
    """ACCESS_TOKEN_GENERATOR: `aio_` + 256 random bits, so the API's authentication knows it at a glance."""
    return OAUTH_TOKEN_PREFIX + secrets.token_urlsafe(settings.API_TOKEN_BYTES)


class ProjectClientScopes(SettingsScopes):
    """SCOPES_BACKEND_CLASS: a client gets at most its OAuthClient's scope (read, or read and write)."""

    @staticmethod
    def _allowed(application) -> list[str]:
        client = getattr(application, "project_client", None) if application is not None else None
        return client.allowed_scopes() if client is not None else []

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return self._allowed(application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        # No `scope` in the token request: read only; write must be asked for.
        return [READ] if READ in self._allowed(application) else []
