"""The erasure of a person (GDPR Art. 17), from the API (`DELETE /auth/me/` with the password), `manage.py
gdpr_erase` or the admin action, and again after a restore of an older backup (`erasures_reapply`).

The account row stays as a pseudonym (other rows point to it: memberships' invited_by, workflows' created_by,
audit actor ids), but nothing in it identifies the person any more. In one transaction:
1. the apps' parts (registry): projects the person was alone in are deleted, the others pass to a remaining
   member and the person leaves them;
2. the account: email `erased-<random>@invalid`, names cleared, password unusable, inactive, no staff rights;
   every refresh token and API token revoked (accounts.credentials), every session of the person deleted;
3. the audit rows where the person is the actor keep their pseudonymous actor id and the chain, and lose their
   raw address and user agent (audit.retention.clear_personal_of, the trigger's controlled path);
4. the exact email is replaced wherever else it was written (see `_scrub`);
5. the erasure is an audit event `gdpr.erasure` (counts only, no email), and an entry of the erasure ledger.
"""

import logging
import re
import secrets
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from accounts import credentials, tokens
from accounts.gdpr import export, ledger, registry
from accounts.models import User
from audit import recording as audit
from audit.models import Category
from audit.retention import clear_personal_of
from common.errors import Conflict, PermissionDenied

logger = logging.getLogger("aiassistant.accounts")

ERASURE_ACTION = "gdpr.erasure"
ERASED_DOMAIN = "invalid"  # RFC 2606: a domain that can never receive mail
NOT_CONFIRMED = "The password is incorrect; nothing was erased."
# Append-only (the trigger refuses other writes): their personal columns are cleared by clear_personal_of, and
# they never hold an email (audit.registry masks emails and names, pseudonymous models have no str()).
_NOT_SCRUBBED = frozenset({"audit"})


class Via:
    """Where an erasure was asked for (the `via` of its audit event)."""

    API = "api"
    COMMAND = "command"
    ADMIN = "admin"
    RESTORE = "restore"


def is_erased(user: User) -> bool:
    return user.erased_at is not None


def user_erase_self(*, user: User, password: str) -> dict[str, int]:
    """The API's erasure: the person confirms with their password (403 and nothing changes when it is wrong)."""
    if not password or not user.check_password(password):
        raise PermissionDenied(NOT_CONFIRMED, code="wrong_password")
    return user_erase(user=user, via=Via.API)


@transaction.atomic
def user_erase(*, user: User, via: str, record_in_ledger: bool = True) -> dict[str, int]:
    """Erase a person; returns what was done ({what: how many}), as the audit event says it."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if is_erased(locked):
        raise Conflict("This account is already erased.", code="already_erased")
    email = locked.email
    counts: dict[str, int] = {}
    for part in registry.parts():
        if part.erase is not None:
            counts.update(part.erase(locked))
    erased_at = timezone.now()
    _pseudonymise(locked, erased_at=erased_at)
    counts["refresh_tokens_revoked"] = tokens.revoke_all(locked)
    counts.update(credentials.revoke_all(locked))
    counts["sessions_deleted"] = _delete_sessions(locked)
    counts["audit_rows_cleared"] = clear_personal_of(locked.pk)
    counts["cells_rewritten"] = _scrub(email, replacement=locked.email)
    # Storage is not transactional: the ledger entry and the deletion of the exports' documents come last, so that
    # a failure before them rolls the whole erasure back. A failed ledger write rolls it back too (the request
    # fails and can be repeated): an erasure that a restore could undo is not done. A failure after the ledger
    # write leaves an entry for an erasure the person asked for, which the next restore then completes.
    if record_in_ledger:
        ledger.write(user_id=locked.pk, erased_at=erased_at)
    counts["exports_deleted"] = export.data_exports_delete(user=locked)
    audit.record(
        Category.GDPR, ERASURE_ACTION, resource_type="user", resource_id=locked.pk, detail={"via": via, **counts}
    )
    user.email, user.full_name, user.is_active, user.erased_at = locked.email, "", False, erased_at
    return counts


def _pseudonymise(user: User, *, erased_at: datetime) -> None:
    # Not full_clean(): Django's EmailValidator refuses a domain without a dot, and `invalid` is the point.
    user.email = f"erased-{secrets.token_hex(12)}@{ERASED_DOMAIN}"
    user.full_name = ""
    user.set_unusable_password()
    user.is_active = user.is_staff = user.is_superuser = False
    user.erased_at = erased_at
    user.save(update_fields=["email", "full_name", "password", "is_active", "is_staff", "is_superuser", "erased_at"])
    user.groups.clear()
    user.user_permissions.clear()


def _delete_sessions(user: User) -> int:
    """Delete the person's database sessions (the admin's); a session names its user only inside its signed data."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    # Sessions are few (only the admin uses them) and their user is not a column: each one is decoded.
    doomed = [
        session.pk
        for session in Session.objects.iterator(chunk_size=500)
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _replaced(value: Any, pattern: re.Pattern, replacement: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, list):
        return [_replaced(item, pattern, replacement) for item in value]
    if isinstance(value, dict):
        return {_replaced(k, pattern, replacement): _replaced(v, pattern, replacement) for k, v in value.items()}
    return value


def _scrub(email: str, *, replacement: str) -> int:
    """Replace the email (any case) in every text and JSON column of every table but the audit trail's; returns
    how many cells changed.

    Why a generic pass rather than a list of known columns: the email is also in places no app owns as personal
    data: django_admin_log's object_repr (str(user) when an operator edited the account), and whatever a person
    typed into an execution's input or a project's description. A list would miss the next such column; this
    pass reads the models, so it covers a table the day it is added. It scans (LIKE '%...%' has no index), which
    is acceptable for a request that comes rarely. The replacement is the account's pseudonymous email, so a
    rewritten text still says "this account" and nothing more.
    """
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    rewritten = 0
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.app_label in _NOT_SCRUBBED or meta.proxy or not meta.managed:
            continue
        for field in meta.concrete_fields:
            if field.primary_key or field.is_relation:
                continue
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            manager = model._base_manager
            rows = manager.filter(**{f"{field.attname}__icontains": email}).values_list("pk", field.attname)
            for pk, value in rows:
                manager.filter(pk=pk).update(**{field.attname: _replaced(value, pattern, replacement)})
                rewritten += 1
    return rewritten


def erasures_pending(*, since: datetime) -> int:
    """How many erasures the ledger holds from `since` on (a backup taken then does not know them)."""
    return sum(1 for entry in ledger.entries() if entry.erased_at >= since)


def erasures_reapply(*, since: datetime) -> int:
    """After a restore: erase again everyone the ledger names whom the restored database holds un-erased; returns
    how many. `since` (the backup's start) is not a filter: an erasure that committed while the dump was
    starting is older than `since` yet missing from the dump, and checking an entry is one indexed lookup."""
    ids = {entry.user_id for entry in ledger.entries()}
    reapplied = 0
    for user in User.objects.filter(pk__in=ids, erased_at__isnull=True).order_by("pk"):
        user_erase(user=user, via=Via.RESTORE, record_in_ledger=False)
        reapplied += 1
    if reapplied:
        logger.warning("restore: %s erasure(s) re-applied", reapplied, extra={"since": since.isoformat()})
    return reapplied
