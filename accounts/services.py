"""Account writes: registration, profile, password, and the JWT session lifecycle."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from common import metrics
from common.errors import AuthenticationFailed, Invalid
from common.services import model_update

INVALID_CREDENTIALS = "The email or password is incorrect."
REFRESH_REFUSED = "The refresh token is invalid, expired or already used."


def token_pair_for(user: User) -> dict:
    """Issue a fresh refresh/access pair in the API's token response shape."""
    refresh = RefreshToken.for_user(user)
    return _token_response(refresh)


def _token_response(refresh: RefreshToken) -> dict:
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    }


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> User:
    """Create an account; the password must satisfy Django's validators."""
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Invalid("An account with this email already exists.", field="email")
    user = User(email=email, full_name=full_name)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), field="password") from exc
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


def user_login(*, request, email: str, password: str) -> User:
    """Check credentials; the same 401 for an unknown email and a wrong password."""
    user = authenticate(request, email=User.objects.normalize_email(email).lower(), password=password)
    if user is None:
        metrics.record_login(result="failure")
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    metrics.record_login(result="success")
    return user


def token_refresh(*, refresh_token: str) -> dict:
    """Rotate a refresh token: the used one is blacklisted and a new pair is issued."""
    try:
        refresh = RefreshToken(refresh_token)  # type: ignore[arg-type]  # the stubs miss that str is accepted
        user_id = refresh.payload.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])
        user = User.objects.filter(id=user_id, is_active=True).first() if user_id else None
        if user is None:
            raise TokenError("The token's user is inactive or gone.")
        refresh.blacklist()
    except TokenError as exc:
        raise AuthenticationFailed(REFRESH_REFUSED, code="token_not_valid") from exc
    return token_pair_for(user)


def token_revoke(*, refresh_token: str) -> None:
    """Log out: the refresh token can no longer be used."""
    try:
        RefreshToken(refresh_token).blacklist()  # type: ignore[arg-type]
    except TokenError as exc:
        raise AuthenticationFailed(REFRESH_REFUSED, code="token_not_valid") from exc


def user_tokens_revoke_all(*, user: User) -> int:
    """Blacklist every outstanding refresh token of the user (after a password change)."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(outstanding)


@transaction.atomic
def user_update(*, user: User, **fields) -> User:
    """Update the profile fields a user may change about themselves (full_name)."""
    model_update(instance=user, fields=("full_name",), data=fields)
    return user


@transaction.atomic
def user_password_change(*, user: User, old_password: str, new_password: str) -> None:
    """Change the password (the old one is required) and end every other session."""
    if not user.check_password(old_password):
        raise Invalid("The current password is incorrect.", field="old_password")
    try:
        validate_password(new_password, user=user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), field="new_password") from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_tokens_revoke_all(user=user)
