"""The JWT session: access/refresh pairs, rotation and revocation (djangorestframework-simplejwt).

The one module of accounts that knows simplejwt; the services call it and raise the project's own errors.

Rotation is atomic: a refresh token is spent by inserting its blacklist row, which is unique per token, so of two
concurrent refreshes of one token exactly one inserts it and succeeds (simplejwt's own `blacklist()` uses
get_or_create, and both succeed). Every token of one sign-in carries the same family id (the `fam` claim); a
refresh token that comes back after it was rotated (the loser of such a race included) is treated as theft:
the whole family is revoked (RevokedTokenFamily) and every refresh token of it is refused from then on.
"""

import datetime
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import RevokedTokenFamily, User
from common.grants import DELEGATED_PREFIXES

FAMILY_CLAIM = "fam"


class TokenRefused(Exception):
    """A refresh token is malformed, expired, already used or revoked, or its user is gone."""


class TokenReused(TokenRefused):
    """A refresh token that was already rotated came back: its family has been revoked."""

    def __init__(self, message: str, *, user_id: str | None, family: str):
        super().__init__(message)
        self.user_id = user_id
        self.family = family


class _SignedRefreshToken(RefreshToken):
    """A refresh token checked for signature, expiry, type, audience and issuer; whether it was already spent is
    rotate()'s to decide (simplejwt's check refuses a spent token before anyone could tell reuse from garbage)."""

    def check_blacklist(self) -> None:
        return None


def pair_for(user: User, *, family: str | None = None) -> dict:
    """A fresh refresh/access pair in the API's token response shape; a new family unless one is given."""
    refresh = RefreshToken.for_user(user)
    refresh[FAMILY_CLAIM] = family or uuid.uuid4().hex
    return _response(refresh)


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


def _family_of(refresh: RefreshToken) -> str:
    # Tokens issued before families existed: each is its own family.
    return str(refresh.payload.get(FAMILY_CLAIM) or refresh.payload[api_settings.JTI_CLAIM])


def _revoke_family(family: str, *, until: datetime.datetime) -> None:
    """Its own transaction: the revocation stays even though the request that found the reuse fails."""
    with transaction.atomic():
        RevokedTokenFamily.objects.get_or_create(family=family, defaults={"expires_at": until})


def rotate(raw: str) -> tuple[User, dict]:
    """Spend a refresh token and issue a new pair of the same family for its (active) user; returns (user, pair).

    Raises TokenReused (after revoking the family) when the token was already spent, TokenRefused otherwise.
    """
    try:
        refresh = _SignedRefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise TokenRefused(str(exc)) from exc
    payload = refresh.payload
    family = _family_of(refresh)
    user_id = payload.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])
    if RevokedTokenFamily.objects.filter(family=family).exists():
        raise TokenRefused("the token's family was revoked")
    user = User.objects.filter(id=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise TokenRefused("the token's user is inactive or gone")
    outstanding = OutstandingToken.objects.filter(jti=payload[api_settings.JTI_CLAIM]).first()
    if outstanding is None:
        raise TokenRefused("the token is unknown")
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        # The family's newest token was issued at the latest now: it is valid for one lifetime more at most.
        _revoke_family(family, until=timezone.now() + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"])
        raise TokenReused("a rotated refresh token was used again", user_id=user_id, family=family) from None
    return user, pair_for(user, family=family)


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


def revoked_families_purge() -> int:
    """Forget revoked families none of whose tokens can still be valid; returns how many."""
    deleted, _ = RevokedTokenFamily.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


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
    if kwargs.get("created"):
        return  # a new user cannot be in the cache yet
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
