"""OpenAPI security schemes (drf-spectacular extensions) of the API's three bearer credentials; imported from
IdentityConfig.ready() so that drf-spectacular knows them before any schema is built."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.permissions import SAFE_METHODS

from common.grants import READ, WRITE


class SessionJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.tokens.SessionJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A session: the access_token from POST /auth/login/ (or /auth/register/, /auth/refresh/).",
        }


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "identity.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "aia_<43+ URL-safe characters>",
            "description": (
                "A personal API token from POST /auth/tokens/ (shown once). A read token gets 403 on every write; a "
                "token bound to a project sees only that project (404 elsewhere). Revoked or expired: 401."
            ),
        }


class OAuthClientScheme(OpenApiAuthenticationExtension):
    target_class = "identity.authentication.OAuthClientAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
        return {
            "type": "oauth2",
            "description": (
                "OAuth2 client credentials of a project (POST /projects/{id}/oauth-clients/): POST /o/token/ with "
                f"grant_type=client_credentials and HTTP Basic client authentication; the `aio_` access token lasts "
                f"{lifetime} s and is bound to the client's project like a project API token."
            ),
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/o/token/",
                    "scopes": dict(settings.OAUTH2_PROVIDER["SCOPES"]),
                }
            },
        }

    def get_security_requirement(self, auto_schema):
        return {self.name: [READ] if auto_schema.method.upper() in SAFE_METHODS else [WRITE]}
