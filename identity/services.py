"""Writes of machine credentials: personal API tokens and project OAuth2 clients, each audited."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from accounts.models import User
from audit import recording as audit
from audit.context import Actor
from audit.models import Category
from common.errors import AuthenticationFailed, Invalid, NotFound, PermissionDenied
from common.grants import API_TOKEN_PREFIX, grant_of
from identity.models import ApiToken, OAuthClient, Scope
from projects.models import Project, Role
from projects.permissions import require_role
from projects.selectors import project_get

PREFIX_LENGTH = 8  # characters of the random part kept in clear to find the row (and show it in lists)
TOKEN_REFUSED = "The API token is invalid, expired or revoked."  # noqa: S105  (a message)


def token_digest(raw: str) -> str:
    """SHA-256 of a whole token: enough for 256 random bits (no dictionary to guess from; see docs/security.md)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _refuse_delegated(actor: User, what: str) -> None:
    # The API refuses tokens on these endpoints already (token_access = SESSION); this keeps the rule in the
    # service for any other caller: a token must not mint a credential that outlives or outranks it.
    if grant_of(actor) is not None:
        raise PermissionDenied(f"An API or OAuth2 token cannot {what}; sign in.", code="session_required")


@transaction.atomic
def api_token_create(
    *, user: User, name: str, scope: str, project_id=None, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a personal API token; returns it and the token itself, which is never stored nor shown again."""
    _refuse_delegated(user, "create API tokens")
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise Invalid(f"Between 1 and {settings.API_TOKEN_MAX_DAYS} days.", field="expires_in_days")
    if scope not in Scope.values:
        raise Invalid("The scope is read or write.", field="scope")
    project: Project | None = None
    if project_id is not None:
        try:
            project = project_get(user=user, project_id=project_id)
        except NotFound as exc:  # said of the field, like any other wrong input
            raise Invalid("You are not a member of a project with this id.", field="project") from exc
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(settings.API_TOKEN_BYTES)
    token = ApiToken(
        user=user,
        name=name,
        scope=scope,
        project=project,
        prefix=raw[len(API_TOKEN_PREFIX) : len(API_TOKEN_PREFIX) + PREFIX_LENGTH],
        token_hash=token_digest(raw),
        expires_at=timezone.now() + timedelta(days=days),
    )
    token.full_clean()
    token.save()
    audit.record(
        Category.AUTH,
        "auth.api_token.created",
        resource_type="apitoken",
        resource_id=token.pk,
        project_id=token.project_id,
        detail={"prefix": token.prefix, "scope": scope, "expires_at": token.expires_at.isoformat()},
        actor=Actor.user(user.pk),
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User, reason: str = "revoked") -> ApiToken:
    """Revoke one token now (idempotent: a revoked token stays revoked at its first time)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            Category.AUTH,
            "auth.api_token.revoked",
            resource_type="apitoken",
            resource_id=token.pk,
            project_id=token.project_id,
            detail={"prefix": token.prefix, "reason": reason},
            actor=Actor.user(actor.pk),
        )
    return token


@transaction.atomic
def api_tokens_revoke_all(user: User) -> int:
    """Revoke every live token of the user (a password change, an erasure); returns how many."""
    live = list(ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    for token in live:
        api_token_revoke(token=token, actor=user, reason="password_or_erasure")
    return len(live)


def api_token_authenticate(*, raw: str) -> ApiToken:
    """The live token `raw` is, with its active user; AuthenticationFailed otherwise. Keeps last_used_at."""
    prefix = raw[len(API_TOKEN_PREFIX) : len(API_TOKEN_PREFIX) + PREFIX_LENGTH]
    digest = token_digest(raw)
    now = timezone.now()
    candidates = ApiToken.objects.select_related("user").filter(prefix=prefix)
    token = next((t for t in candidates if hmac.compare_digest(t.token_hash, digest)), None)
    if token is None or token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        raise AuthenticationFailed(TOKEN_REFUSED, code="token_not_valid")
    interval = timedelta(seconds=settings.API_TOKEN_LAST_USED_INTERVAL)
    if token.last_used_at is None or token.last_used_at <= now - interval:
        # At most one write per token and interval, and no history entry for it (update(), not save()).
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def oauth_clients_may_view(*, role: str | None) -> None:
    """Clients are the project's credentials: only its admins and owners list them."""
    require_role(role, Role.ADMIN, "see OAuth2 clients")


@transaction.atomic
def oauth_client_create(*, project: Project, role: str, actor: User, name: str, scope: str) -> tuple[OAuthClient, str]:
    """Create a client-credentials OAuth2 client of the project; returns it and its secret (stored hashed only)."""
    require_role(role, Role.ADMIN, "create OAuth2 clients")
    _refuse_delegated(actor, "create OAuth2 clients")
    if scope not in Scope.values:
        raise Invalid("The scope is read or write.", field="scope")
    application_model = get_application_model()
    secret = generate_client_secret()
    application = application_model(
        name=f"{project.slug}: {name}"[:255],
        user=actor,
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
        redirect_uris="",
    )
    application.full_clean()
    application.save()  # ClientSecretField hashes the secret with CLIENT_SECRET_HASHER on save
    client = OAuthClient(project=project, application=application, name=name, scope=scope, created_by=actor)
    client.full_clean()
    client.save()
    audit.record(
        Category.AUTH,
        "auth.oauth_client.created",
        resource_type="oauthclient",
        resource_id=client.pk,
        project_id=project.pk,
        detail={"client_id": application.client_id, "scope": scope},
    )
    return client, secret


@transaction.atomic
def oauth_client_delete(*, client: OAuthClient, role: str, actor: User) -> None:
    """Delete a client: its access tokens go with its Application, so they stop at once."""
    require_role(role, Role.ADMIN, "delete OAuth2 clients")
    _refuse_delegated(actor, "delete OAuth2 clients")
    oauth_client_remove(client=client, reason="deleted")


@transaction.atomic
def oauth_client_remove(*, client: OAuthClient, reason: str) -> None:
    """Delete a client with its Application and tokens (no role check: the admin and an erasure call this)."""
    client_id, project_id, pk = client.application.client_id, client.project_id, client.pk
    client.application.delete()  # cascades to the OAuthClient row and the tokens
    audit.record(
        Category.AUTH,
        "auth.oauth_client.deleted",
        resource_type="oauthclient",
        resource_id=pk,
        project_id=project_id,
        detail={"client_id": client_id, "reason": reason},
    )


def oauth_clients_delete_of(user: User) -> int:
    """Delete the clients the user created (an erasure: they act as that person); returns how many."""
    clients = list(OAuthClient.objects.select_related("application").filter(created_by=user))
    for client in clients:
        oauth_client_remove(client=client, reason="creator_erased")
    return len(clients)


def oauth_token_issued(sender, request, token, **kwargs) -> None:
    """django-oauth-toolkit's app_authorized signal: /o/token/ issued an access token (never its value)."""
    client = OAuthClient.objects.filter(application_id=token.application_id).first()
    audit.record(
        Category.AUTH,
        "auth.oauth_token.issued",
        resource_type="oauthclient",
        resource_id=client.pk if client else "",
        project_id=client.project_id if client else None,
        detail={"client_id": token.application.client_id, "scope": token.scope, "expires": token.expires.isoformat()},
        actor=Actor.user(client.created_by_id) if client else None,
    )
