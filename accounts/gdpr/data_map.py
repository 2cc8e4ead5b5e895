"""The data map: every class of personal data the service keeps, where, why, on what legal basis, who receives it
and for how long (what GDPR Art. 15(1) and Art. 30 ask).

The one source of that table: the export document carries it (`as_json`), and docs/compliance.md shows it
(`markdown`, checked by tests/accounts/gdpr/test_data_map.py). Retention periods are read from the settings, so
that both say what this deployment does. Table names are plain strings: accounts imports no app above it.
"""

from dataclasses import dataclass

from django.conf import settings

CONTRACT = "contract (Art. 6(1)(b))"
LEGITIMATE_INTEREST = "legitimate interest (Art. 6(1)(f))"
LEGAL_OBLIGATION = "legal obligation (Art. 6(1)(c))"


@dataclass(frozen=True)
class DataClass:
    """One class of personal data; `retention` may name periods of `_periods()` as {fields}."""

    name: str
    title: str
    where: tuple[str, ...]
    personal_data: str
    purpose: str
    legal_basis: str
    recipients: str
    retention: str


DATA_CLASSES: tuple[DataClass, ...] = (
    DataClass(
        "account",
        "Account",
        ("accounts_user",),
        "email, full name, password hash, sign-in and join dates, when the email was verified",
        "signing in; showing who is who to the members of the person's projects",
        CONTRACT,
        "the members of the person's projects (email and name); operators (admin)",
        "while the account exists; an erasure pseudonymises it at once",
    ),
    DataClass(
        "sign_in_sessions",
        "Sign-in sessions",
        (
            "token_blacklist_outstandingtoken",
            "token_blacklist_blacklistedtoken",
            "django_session (admin)",
        ),
        "refresh tokens (user id, token id, expiry); admin session cookies",
        "keeping the person signed in; ending sessions (logout, password change)",
        CONTRACT,
        "nobody",
        "until the token expires ({refresh_days} days), then flushed daily; an erasure revokes and deletes them",
    ),
    DataClass(
        "api_credentials",
        "API tokens and OAuth2 clients",
        (
            "identity_apitoken",
            "identity_oauthclient (created_by)",
            "oauth2_provider_application (user)",
            "oauth2_provider_accesstoken",
        ),
        "the person's API tokens (name, scope, project, prefix, SHA-256 hash, dates, last use); the OAuth2 clients "
        "they created",
        "letting the person's scripts and their project's services call the API "
        "([security.md](security.md#api-tokens-and-oauth2-clients))",
        CONTRACT,
        "nobody (the project's admins see its clients)",
        "until revoked or expired (at most {api_token_max_days} days) and, for clients, deleted; a password change "
        "revokes the tokens; an erasure revokes them and deletes the clients the person created",
    ),
    DataClass(
        "memberships",
        "Project memberships",
        ("projects_membership (user, role, invited_by)",),
        "which projects the person belongs to, with which role, and who invited them",
        "access control",
        CONTRACT,
        "the members of the project",
        "while the membership exists; an erasure ends it",
    ),
    DataClass(
        "invitations",
        "Project invitations",
        ("projects_invitation (email, invited_by, accepted_by)",),
        "the invited email address (maybe of someone without an account), the role offered, who invited, when it "
        "was mailed, accepted or revoked; a hash of the mailed token",
        "letting the owner of an address join a project, and no one else",
        LEGITIMATE_INTEREST,
        "the admins and owners of the project; the mail provider (EMAIL_URL)",
        "deleted {invitations} days after being accepted, revoked or expired; an erasure deletes those addressed "
        "to the person's verified email",
    ),
    DataClass(
        "content",
        "Projects, workflows and versions",
        (
            "projects_project (created_by)",
            "workflows_workflow (created_by)",
            "workflows_workflowversion (created_by)",
        ),
        "who created them, and what the person wrote in them",
        "the service itself: the team's workspace and definitions",
        CONTRACT,
        "the members of the project",
        "until deleted by the project; an erasure deletes projects the person was alone in and hands the others "
        "to a remaining member",
    ),
    DataClass(
        "executions",
        "Executions",
        (
            "workflows_execution (triggered_by, input, output, error)",
            "workflows_steprun (output, error)",
        ),
        "who ran a workflow, its input and what it produced",
        "running the workflows the person starts",
        CONTRACT,
        "the members of the project; the HTTP endpoints and the LLM provider the workflow calls",
        "inputs and outputs emptied after {execution_payloads} days (the rows stay with the workflow)",
    ),
    DataClass(
        "audit_trail",
        "Audit trail",
        (
            "audit_auditevent (actor_id, ip, user_agent)",
            "audit_modelhistory (actor_id, remote_addr)",
        ),
        "what the person did, when, from which address and user agent; the history masks account emails and names",
        "security and accountability (who changed what); proving that requests were answered",
        LEGITIMATE_INTEREST,
        "the person (their own events); owners and admins of the project; auditors",
        "addresses and user agents cleared after {audit_personal} days, failed sign-ins removed after "
        "{login_failures} days, rows removed after {audit_rows} days; an erasure clears addresses at once",
    ),
    DataClass(
        "exports",
        "Data exports",
        ("accounts_dataexport", 'the document in STORAGES["exports"]'),
        "a copy of all of the above that concerns the person",
        "answering the person's access request",
        LEGAL_OBLIGATION,
        "the person only",
        "{exports} days",
    ),
    DataClass(
        "backups",
        "Backups",
        ('STORAGES["backups"] backups/',),
        "a copy of the whole database",
        "recovering from a disaster",
        LEGITIMATE_INTEREST,
        "operators",
        "{backups} days; an erasure is re-applied by every restore of an older backup (the erasure ledger)",
    ),
    DataClass(
        "erasure_ledger",
        "Erasure ledger",
        ('STORAGES["backups"] erasures/', 'STORAGES["backups_replica"] erasures/'),
        "the pseudonymous id of an erased person and the time of the erasure (no email, no name)",
        "re-applying an erasure when an older backup is restored",
        LEGAL_OBLIGATION,
        "operators",
        "kept while a backup older than the erasure may exist (not pruned automatically)",
    ),
)


def _periods() -> dict[str, int]:
    refresh = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    return {
        **settings.RETENTION_DAYS,
        "backups": settings.BACKUP_RETENTION_DAYS,
        "refresh_days": int(refresh.total_seconds() // 86400),
        "api_token_max_days": settings.API_TOKEN_MAX_DAYS,
    }


def as_json() -> list[dict]:
    """The data map as the export document carries it."""
    periods = _periods()
    return [
        {
            "name": data_class.name,
            "title": data_class.title,
            "where": list(data_class.where),
            "personal_data": data_class.personal_data,
            "purpose": data_class.purpose,
            "legal_basis": data_class.legal_basis,
            "recipients": data_class.recipients,
            "retention": data_class.retention.format(**periods),
        }
        for data_class in DATA_CLASSES
    ]


def markdown() -> str:
    """The data map as the Markdown table of docs/compliance.md."""
    lines = [
        "| data class | where (table, column) | personal data | purpose | legal basis | recipients | retention |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in as_json():
        where = "<br>".join(f"`{place}`" for place in row["where"])
        cells = [row["title"], where, row["personal_data"], row["purpose"], row["legal_basis"], row["recipients"]]
        lines.append("| " + " | ".join([*cells, row["retention"]]) + " |")
    return "\n".join(lines) + "\n"
