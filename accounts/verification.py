"""Email verification tokens: signed by Django (django.core.signing, SECRET_KEY), never stored.

A token is `signing.dumps({"u": user id, "s": state})` with a timestamp; `state` is a keyed hash of the account's
id, email and verification time. Why signed rather than a stored hashed token:
- nothing to store, expire or purge, and no table that a database leak turns into working links;
- the Celery task that mails the link builds it from the user id alone, so no token crosses the broker or a log;
- single use without bookkeeping: verifying changes `email_verified_at`, which changes `state`, so the same token
  (and every other one issued before) no longer matches; a changed email invalidates them too.
Links stay valid for EMAIL_VERIFICATION_MAX_AGE_HOURS; asking again (resend) issues a new one.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "accounts.verification.email"


class TokenInvalid(Exception):
    """The token was not issued by this service, or no longer matches the account (malformed, email changed)."""


class TokenExpired(Exception):
    """The token is genuine, and older than EMAIL_VERIFICATION_MAX_AGE_HOURS."""


@dataclass(frozen=True)
class Claim:
    """What a genuine token says: whose it is, and the account state it was issued for."""

    user_id: str
    state: str


def _state(user) -> str:
    value = f"{user.pk}|{user.email}|{user.email_verified_at.isoformat() if user.email_verified_at else ''}"
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()[:32]


def make_token(user) -> str:
    """A new verification token for the account as it is now."""
    return signing.dumps({"u": str(user.pk), "s": _state(user)}, salt=SALT)


def read(token: str) -> Claim:
    """The claim of a genuine, unexpired token (TokenInvalid, TokenExpired otherwise)."""
    max_age = settings.EMAIL_VERIFICATION_MAX_AGE_HOURS * 3600
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise TokenExpired from exc
    except signing.BadSignature as exc:
        raise TokenInvalid from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), str) or not isinstance(payload.get("s"), str):
        raise TokenInvalid
    return Claim(user_id=payload["u"], state=payload["s"])


def matches(claim: Claim, user) -> bool:
    """Whether the claim was issued for the account in its current state (False once verified: single use)."""
    return constant_time_compare(claim.state, _state(user))
