"""identity's part of a person's export and erasure (accounts.gdpr.registry)."""

from identity import services
from identity.models import ApiToken


def api_tokens_export(user) -> list[dict]:
    """The person's API tokens as metadata (never the hash: it is not their data, it is a lock)."""
    return [
        {
            "name": token.name,
            "scope": token.scope,
            "project": str(token.project_id) if token.project_id else None,
            "prefix": token.prefix,
            "created_at": token.created_at.isoformat(),
            "expires_at": token.expires_at.isoformat(),
            "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        }
        for token in ApiToken.objects.filter(user=user).order_by("created_at")
    ]


def oauth_clients_erase(user) -> dict[str, int]:
    """The OAuth2 clients the person created act as them: deleted (the API tokens are revoked by the erasure)."""
    return {"oauth_clients_deleted": services.oauth_clients_delete_of(user)}
