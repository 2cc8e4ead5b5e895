"""The JWT session: access/refresh pairs, rotation and revocation (djangorestframework-simplejwt).

The one module of accounts that knows simplejwt; the services call it and raise the project's own errors.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from common.grants import DELEGATED_PREFIXES


class TokenRefused(Exception):
    """A refresh token is malformed, expired, already used or revoked, or its user is gone."""


def pair_for(user: User) -> dict:
    """A fresh refresh/access pair in the API's token response shape."""
    return _response(RefreshToken.for_user(user))


def _response(refresh: RefreshToken) -> dict:
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    }


def _parse(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]  # the stubs miss that str is accepted
    except TokenError as exc:
        raise TokenRefused(str(exc)) from exc


def rotate(raw: str) -> tuple[User, dict]:
    """Blacklist a refresh token and issue a new pair for its (active) user; returns (user, pair)."""
    refresh = _parse(raw)
    user_id = refresh.payload.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])
    user = User.objects.filter(id=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise TokenRefused("the token's user is inactive or gone")
    try:
        refresh.blacklist()
    except TokenError as exc:
        raise TokenRefused(str(exc)) from exc
    return user, pair_for(user)


def revoke(raw: str) -> str | None:
    """Blacklist one refresh token; returns the id of its user."""
    refresh = _parse(raw)
    try:
        refresh.blacklist()
    except TokenError as exc:
        raise TokenRefused(str(exc)) from exc
    return refresh.payload.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])


def revoke_all(user: User) -> int:
    """Blacklist every outstanding refresh token of the user; returns how many."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(outstanding)


# --- The user behind an access token, without a database round trip per request ----------------------------------

USER_CACHE_KEY = "auth:user:{}"


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's authentication with the token's user read through the shared cache.

    Every API request used to load its user by primary key: a round trip and an ORM query on the hottest path.
    The user row now lives in the cache for JWT_USER_CACHE_SECONDS; any save or delete of the user (password
    change, deactivation, erasure, a staff edit in the admin) drops the entry at commit (`forget_user`), so
    the next request reads the row again. What the cache can hold back is bounded by that lifetime: a change
    made by a bulk QuerySet.update() (none in the code today) or racing a concurrent read. The access token
    itself lives five minutes, so a cached user never outlives what the token already allowed.
    """

    def get_user(self, validated_token):
        seconds = settings.JWT_USER_CACHE_SECONDS
        if not seconds:
            return super().get_user(validated_token)
        user_id = validated_token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])
        key = USER_CACHE_KEY.format(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(validated_token)  # raises for an unknown or inactive user: nothing cached
            cache.set(key, user, seconds)
        elif not user.is_active:
            raise AuthenticationFailed(str(_("User is inactive")), code="user_inactive")  # simplejwt's own words
        return user


def forget_user(sender, instance, **kwargs) -> None:
    """Drop the cached copy of a user once the change that touched it commits (see JWTAuthentication)."""
    key = USER_CACHE_KEY.format(instance.pk)
    cache.delete(key)  # now, and again after commit: a read between the two must not keep the old row
    transaction.on_commit(lambda: cache.delete(key))


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication that leaves API and OAuth2 tokens (aia_, aio_) to their own classes.

    Without this, a token that is not a JWT would be refused here with a 401 whatever the classes' order.
    """

    def get_raw_token(self, header: bytes) -> bytes | None:
        raw = super().get_raw_token(header)
        if raw is not None and raw.startswith(tuple(prefix.encode() for prefix in DELEGATED_PREFIXES)):
            return None
        return raw
