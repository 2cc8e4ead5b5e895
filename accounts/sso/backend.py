"""The authentication backend of SSO sign-ins: mozilla-django-oidc's authorization-code flow (PKCE, state, nonce,
the id_token's RS256 signature against the provider's JWKS), with what it leaves out checked here: the id_token's
issuer and audience, a verified email, the userinfo answer being about the same subject.

It answers only the callback view's call: any other `authenticate()` (the admin's password form, the API's login)
passes through it untouched, and the provider is not contacted for them."""

import logging

import jwt
import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.sso import provider, services

logger = logging.getLogger("aiassistant.sso")
CALLBACK_URL_NAME = "oidc_authentication_callback"
# What the request remembers of a refusal, for the callback view's message.
REFUSAL_ATTRIBUTE = "sso_refusal"
ISSUER_ATTRIBUTE = "sso_issuer"


def _refuse(request, reason: str, **record) -> None:
    setattr(request, REFUSAL_ATTRIBUTE, reason)
    services.sso_refusal_record(reason, **record)


class StaffOidcBackend(OIDCAuthenticationBackend):
    """OpenID Connect sign-in for staff (AUTHENTICATION_BACKENDS lists it only when OIDC_ENABLED)."""

    def __init__(self, *args, **kwargs):
        # mozilla-django-oidc reads its endpoints here; ours are found (maybe discovered) only for a callback.
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()
        self.issuer = ""

    def _configure(self) -> None:
        found = provider.current()
        self.issuer = found.issuer
        self.OIDC_OP_TOKEN_ENDPOINT = found.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = found.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = found.jwks_uri
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        match = getattr(request, "resolver_match", None)
        if request is None or "nonce" not in kwargs or getattr(match, "url_name", None) != CALLBACK_URL_NAME:
            return None
        try:
            self._configure()
        except provider.ProviderUnavailable as exc:
            logger.warning("single sign-on: %s", exc)
            _refuse(request, "provider_unavailable")
            return None
        try:
            return super().authenticate(request, **kwargs)
        except services.SsoRefused as exc:
            setattr(request, REFUSAL_ATTRIBUTE, exc.reason)  # recorded by the service
        except (SuspiciousOperation, jwt.InvalidTokenError) as exc:
            logger.warning("single sign-on: the provider's answer was refused: %s", exc)
            _refuse(request, "invalid_token", issuer=self.issuer)
        except (requests.RequestException, ValueError) as exc:
            # The token endpoint's error body may echo what was sent: only the exception's type is logged.
            logger.warning("single sign-on: the provider refused the code or did not answer (%s)", type(exc).__name__)
            _refuse(request, "token_exchange_failed", issuer=self.issuer)
        return None

    def verify_token(self, token, **kwargs):
        """The signature and nonce (mozilla-django-oidc), then the issuer, audience and expiry it does not check."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != self.issuer:
            raise SuspiciousOperation("the id_token's issuer is not the provider's")
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the id_token was not issued to this client")
        if len(audiences) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("the id_token's authorized party is not this client")
        if "exp" not in payload or not payload.get("sub"):
            raise SuspiciousOperation("the id_token has no expiry or no subject")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The id_token's claims, completed by the userinfo endpoint's (when the provider has one) for one subject."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            userinfo = super().get_userinfo(access_token, id_token, payload)
            if userinfo.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("the userinfo answer is about another subject")
            claims.update(userinfo)
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        try:
            claims = self.get_userinfo(access_token, id_token, payload)
        except SuspiciousOperation as exc:
            logger.warning("single sign-on: the userinfo answer was refused: %s", exc)
            _refuse(self.request, "invalid_userinfo", issuer=self.issuer)
            return None
        email = claims.get("email") if isinstance(claims.get("email"), str) else ""
        if not email or claims.get("email_verified") not in (True, "true"):
            _refuse(self.request, "email_not_verified", email=email, issuer=self.issuer)
            return None
        groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        name = claims.get("name") or " ".join(filter(None, [claims.get("given_name"), claims.get("family_name")]))
        user = services.staff_sso_sign_in(
            email=email, full_name=str(name or ""), groups=[str(g) for g in groups], issuer=self.issuer
        )
        setattr(self.request, ISSUER_ATTRIBUTE, self.issuer)  # the session's SSO_SESSION_KEY (accounts.sso.views)
        return user
