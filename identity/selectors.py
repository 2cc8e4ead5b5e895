"""Reads of machine credentials, scoped to their owner (API tokens) or to a project already fetched (clients)."""

from django.db.models import QuerySet

from common.errors import NotFound
from identity.models import ApiToken, OAuthClient
from projects.models import Project


def api_token_list(*, user) -> QuerySet[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones too, for the record)."""
    return ApiToken.objects.filter(user=user).select_related("project").order_by("-created_at")


def api_token_get(*, user, token_id) -> ApiToken:
    try:
        return api_token_list(user=user).get(pk=token_id)
    except (ApiToken.DoesNotExist, ValueError) as exc:
        raise NotFound from exc


def oauth_client_list(*, project: Project) -> QuerySet[OAuthClient]:
    """Clients of a project fetched through projects.selectors.project_get."""
    return OAuthClient.objects.filter(project=project).select_related("application").order_by("-created_at")


def oauth_client_get(*, project: Project, client_id) -> OAuthClient:
    try:
        return oauth_client_list(project=project).get(pk=client_id)
    except (OAuthClient.DoesNotExist, ValueError) as exc:
        raise NotFound from exc
