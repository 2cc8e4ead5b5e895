import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import token_pair_for
from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and other cached state never leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user)['access_token']}")
    return client


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def auth_client(user):
    return client_for(user)


@pytest.fixture
def project_with_roles(db):
    """A project with one member of each role, plus an outsider; returns (project, {role: user})."""
    project = ProjectFactory()
    users = {}
    for role in Role.values:
        users[role] = MembershipFactory(project=project, role=role).user
    users["outsider"] = UserFactory()
    return project, users
