"""DRF authentication for delegated credentials: `Authorization: Bearer aia_...` (personal API tokens) and
`Bearer aio_...` (OAuth2 access tokens from /o/token/). Each sets request.auth to the token row and attaches the
credential's Grant (common.grants) to the user, which the permission class and the selectors enforce.

A bearer value without our prefixes is left to the JWT class (accounts.tokens.SessionJWTAuthentication).
"""

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from common import errors
from common.grants import API_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX, READ, WRITE, Grant, bind
from identity import services
from identity.models import OAuthClient

OAUTH_REFUSED = "The OAuth2 access token is invalid, expired or revoked."


def _bearer(request) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer aia_...`: the token's user, limited by its scope and project."""

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None or not raw.startswith(API_TOKEN_PREFIX):
            return None
        try:
            token = services.api_token_authenticate(raw=raw)
        except errors.AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        user = token.user  # loaded for this request alone (select_related): the grant stays on it
        bind(user, Grant(kind="api_token", scope=token.scope, project_id=token.project_id, credential_id=str(token.pk)))
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class OAuthClientAuthentication(OAuth2Authentication):
    """`Authorization: Bearer aio_...` from a client-credentials grant: acts as the project admin who created the
    client, bound to its project, with the token's scope (write only if the token has it)."""

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None or not raw.startswith(OAUTH_TOKEN_PREFIX):
            return None
        found = super().authenticate(request)  # django-oauth-toolkit: checksum lookup, expiry, revocation
        if found is None:
            raise exceptions.AuthenticationFailed(OAUTH_REFUSED, code="token_not_valid")
        access_token = found[1]
        client = (
            OAuthClient.objects.select_related("created_by").filter(application_id=access_token.application_id).first()
        )
        if client is None or not client.created_by.is_active:
            raise exceptions.AuthenticationFailed(OAUTH_REFUSED, code="token_not_valid")
        scopes = set(access_token.scope.split())
        scope = WRITE if WRITE in scopes and client.scope == WRITE else READ
        user = client.created_by
        bind(user, Grant(kind="oauth2", scope=scope, project_id=client.project_id, credential_id=str(client.pk)))
        return user, access_token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
