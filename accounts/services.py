"""Account writes: registration, email verification, profile, password, and the JWT session lifecycle."""

from celery import current_app
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import credentials, lockout, tokens, verification
from accounts.models import User
from audit import keys as audit_keys
from audit import recording as audit
from audit.context import Actor
from audit.models import Category
from audit.retention import LOGIN_FAILED
from common import mail, metrics
from common.errors import AuthenticationFailed, Conflict, Gone, Invalid, TooManyRequests
from common.services import model_update

INVALID_CREDENTIALS = "The email or password is incorrect."
REFRESH_REFUSED = "The refresh token is invalid, expired or already used."
VERIFICATION_TASK = "accounts.send_verification_email"
EMAIL_VERIFIED = "auth.email.verified"
TOKEN_INVALID = "This verification token is not valid; ask for a new one."  # noqa: S105 - a message, not a password
TOKEN_EXPIRED = "This verification token has expired; ask for a new one."  # noqa: S105 - a message, not a password
TOKEN_USED = "This email address is already verified; the token cannot be used again."  # noqa: S105 - a message, not a password


def token_pair_for(user: User) -> dict:
    """Issue a fresh refresh/access pair in the API's token response shape."""
    return tokens.pair_for(user)


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
    _queue_verification(user)
    return user


def _queue_verification(user: User) -> None:
    # By id, after commit: the worker builds the token itself (none crosses the broker) and sees the row.
    user_id = str(user.pk)
    transaction.on_commit(
        lambda: current_app.send_task(VERIFICATION_TASK, args=[user_id], queue=settings.WORKFLOW_EXECUTION_QUEUE)
    )


@transaction.atomic
def email_verification_request(*, user: User) -> None:
    """Mail a new verification link (resend); 409 when the address is already verified."""
    if user.email_verified:
        raise Conflict("This email address is already verified.", code="already_verified")
    _queue_verification(user)
    audit.record(Category.AUTH, "auth.email.verification_requested", resource_type="user", resource_id=user.pk)


def email_verification_send(*, user_id) -> bool:
    """The task's work: mail a fresh link to an active, unverified account; False when there is nothing to send.

    Safe to run twice (a second run mails a second valid link; both stop working once one is used)."""
    user = User.objects.filter(pk=user_id, is_active=True, email_verified_at__isnull=True).first()
    if user is None:
        return False
    token = verification.make_token(user)
    hours = settings.EMAIL_VERIFICATION_MAX_AGE_HOURS
    body = (
        "Hello,\n\n"
        "Please confirm that this is your email address by opening this link:\n\n"
        f"{mail.link('/verify-email', token)}\n\n"
        f'or by sending this token to POST /api/v1/auth/verify-email/ as {{"token": "..."}}:\n\n{token}\n\n'
        f"The link is valid for {hours} hours. If you did not create an account, ignore this mail.\n"
    )
    mail.send(to=user.email, subject="Confirm your email address", body=body, kind="email_verification")
    return True


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the account the token was issued for as verified (400 invalid, 410 expired or already used)."""
    try:
        claim = verification.read(token)
    except verification.TokenExpired as exc:
        raise Gone(TOKEN_EXPIRED, code="token_expired") from exc
    except verification.TokenInvalid as exc:
        raise Invalid(TOKEN_INVALID, field="token") from exc
    user = User.objects.select_for_update().filter(pk=claim.user_id, is_active=True).first()
    if user is None:
        raise Invalid(TOKEN_INVALID, field="token")
    if user.email_verified:
        raise Gone(TOKEN_USED, code="token_used")
    if not verification.matches(claim, user):
        raise Invalid(TOKEN_INVALID, field="token")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    audit.record(Category.AUTH, EMAIL_VERIFIED, resource_type="user", resource_id=user.pk, actor=Actor.user(user.pk))
    return user


def user_login(*, request, email: str, password: str) -> User:
    """Check credentials; the same 401 for an unknown email and a wrong password, 429 while locked out.

    The lockout (accounts.lockout, django-axes) counts failures per account and per address; once locked, even
    the right password is refused until the cool-off ends, and the answer says when (Retry-After).
    """
    email = User.objects.normalize_email(email).lower()
    user = authenticate(request, email=email, password=password)
    if user is None:
        metrics.record_login(result="failure")
        locked = lockout.locked_out(request)
        # Who tried is kept as a keyed hash: the address may not even belong to an account.
        detail = {"email_hash": audit_keys.personal(email)} | ({"locked_out": True} if locked else {})
        audit.record(Category.AUTH, LOGIN_FAILED, detail=detail)
        if locked:
            wait = lockout.retry_after(request, {"email": email})
            raise TooManyRequests(lockout.LOCKED_MESSAGE, code="locked_out", retry_after=wait)
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    lockout.succeeded(request, user)
    metrics.record_login(result="success")
    audit.record(
        Category.AUTH, "auth.login.succeeded", resource_type="user", resource_id=user.pk, actor=Actor.user(user.pk)
    )
    return user


def token_refresh(*, refresh_token: str) -> dict:
    """Rotate a refresh token: the used one is blacklisted and a new pair is issued."""
    try:
        user, pair = tokens.rotate(refresh_token)
    except tokens.TokenReused as exc:
        # Theft, or a client that sent one token twice: either way two parties may hold the chain.
        audit.record(
            Category.AUTH,
            "auth.refresh.reused",
            resource_type="user",
            resource_id=exc.user_id or "",
            detail={"family_revoked": exc.family},
        )
        raise AuthenticationFailed(REFRESH_REFUSED, code="token_not_valid") from exc
    except tokens.TokenRefused as exc:
        audit.record(Category.AUTH, "auth.refresh.refused")
        raise AuthenticationFailed(REFRESH_REFUSED, code="token_not_valid") from exc
    audit.record(
        Category.AUTH, "auth.refresh.succeeded", resource_type="user", resource_id=user.pk, actor=Actor.user(user.pk)
    )
    return pair


def token_revoke(*, refresh_token: str) -> None:
    """Log out: the refresh token can no longer be used."""
    try:
        user_id = tokens.revoke(refresh_token)
    except tokens.TokenRefused as exc:
        raise AuthenticationFailed(REFRESH_REFUSED, code="token_not_valid") from exc
    actor = Actor.user(user_id) if user_id else None
    audit.record(Category.AUTH, "auth.logout", resource_type="user", resource_id=user_id or "", actor=actor)


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
    revoked = tokens.revoke_all(user)
    # API tokens too: whoever learnt the old password may have minted some.
    others = credentials.revoke_all(user)
    audit.record(
        Category.AUTH,
        "auth.password.changed",
        resource_type="user",
        resource_id=user.pk,
        detail={"sessions_ended": revoked, **others},
    )


@transaction.atomic
def staff_totp_enroll(*, user: User, name: str = "default"):
    """Give a staff member a new confirmed TOTP device (django-otp) for the admin's second factor; returns it.

    For the first superuser, who cannot sign in to the admin to enrol one there (manage.py otp_totp_enroll).
    The device's key is returned once for the authenticator app, never recorded (its history excludes the key).
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not user.is_active or not user.is_staff:
        raise Invalid("Only an active staff account can enrol an admin TOTP device.", field="email")
    device = TOTPDevice(user=user, name=name[:64] or "default", confirmed=True)
    device.full_clean()
    device.save()
    audit.record(
        Category.AUTH,
        "auth.2fa.enrolled",
        resource_type="totpdevice",
        resource_id=device.pk,
        detail={"user_id": str(user.pk), "via": "command"},
    )
    return device
