"""The account an SSO sign-in opens: found by verified email, created if the IdP says staff, and its staff flag and
Auditors membership set from the IdP's group claim at every sign-in (the IdP is the source of truth for them)."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import User
from audit import keys as audit_keys
from audit import recording as audit
from audit.context import Actor
from audit.groups import AUDITORS
from audit.models import Category

SSO_LOGIN = "auth.sso.login.succeeded"
SSO_REFUSED = "auth.sso.login.failed"
NOT_STAFF = "not_in_staff_group"
INACTIVE = "account_inactive"

REFUSAL_MESSAGES = {
    NOT_STAFF: "Your identity provider does not list you in the staff group: ask for access there.",
    INACTIVE: "This account is disabled.",
}


class SsoRefused(Exception):
    """The IdP's answer was valid, but it does not let this person into the admin (`reason`: a code)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    """What the IdP's groups give: staff, and the Auditors group."""

    staff: bool
    auditor: bool


def grant_for(groups: list[str]) -> Grant:
    """OIDC_STAFF_GROUP makes staff, OIDC_AUDITOR_GROUP an auditor (an auditor who is not staff cannot sign in)."""
    return Grant(
        staff=bool(settings.OIDC_STAFF_GROUP) and settings.OIDC_STAFF_GROUP in groups,
        auditor=bool(settings.OIDC_AUDITOR_GROUP) and settings.OIDC_AUDITOR_GROUP in groups,
    )


def staff_sso_sign_in(*, email: str, full_name: str, groups: list[str], issuer: str) -> User:
    """The user an SSO sign-in opens a session for, created or updated; raises SsoRefused (recorded) otherwise.

    The staff flag and the Auditors membership follow the groups (someone removed from the staff group at the IdP
    loses staff here at their next attempt, and that demotion stays although the sign-in is refused);
    is_superuser is never granted nor taken by SSO."""
    email = User.objects.normalize_email(email).lower()
    user, refusal = _account_sync(email=email, full_name=full_name[:150], grant=grant_for(groups), issuer=issuer)
    if refusal or user is None:
        raise SsoRefused(refusal or NOT_STAFF)
    return user


@transaction.atomic
def _account_sync(*, email: str, full_name: str, grant: Grant, issuer: str) -> tuple[User | None, str]:
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    created = False
    if user is None:
        if not grant.staff:  # no account for someone who may not use the admin
            _record_refusal(NOT_STAFF, email=email, issuer=issuer)
            return None, NOT_STAFF
        user = User(email=email, full_name=full_name, is_staff=True)
        user.set_unusable_password()  # SSO only, until someone sets a password in the admin
        user.full_clean()
        user.save()
        created = True
    elif user.is_staff != grant.staff or (full_name and not user.full_name):
        user.is_staff = grant.staff
        user.full_name = user.full_name or full_name
        user.full_clean()
        user.save(update_fields=["is_staff", "full_name"])
    auditors = Group.objects.get(name=AUDITORS)
    if grant.auditor:
        user.groups.add(auditors)
    else:
        user.groups.remove(auditors)
    refusal = NOT_STAFF if not grant.staff else INACTIVE if not user.is_active else ""
    if refusal:
        _record_refusal(refusal, email=email, issuer=issuer, user=user)
        return user, refusal
    audit.record(
        Category.AUTH,
        SSO_LOGIN,
        resource_type="user",
        resource_id=user.pk,
        actor=Actor.user(user.pk),
        detail={"issuer": issuer, "created": created, "staff": grant.staff, "auditor": grant.auditor},
    )
    return user, ""


def sso_refusal_record(reason: str, *, email: str = "", issuer: str = "") -> None:
    """An SSO answer refused before any account was looked at (a bad token, an unverified email)."""
    _record_refusal(reason, email=email, issuer=issuer)


def _record_refusal(reason: str, *, email: str, issuer: str, user: User | None = None) -> None:
    audit.record(
        Category.AUTH,
        SSO_REFUSED,
        resource_type="user" if user else "",
        resource_id=user.pk if user else "",
        actor=Actor.user(user.pk) if user else None,
        detail={"reason": reason, "issuer": issuer, **({"email_hash": audit_keys.personal(email)} if email else {})},
    )
