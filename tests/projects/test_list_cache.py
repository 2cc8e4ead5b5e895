"""The cached project list (common.read_cache): served from Redis, per user, and fresh after every write."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from accounts.gdpr.erasure import user_erase
from common import read_cache
from projects.models import Membership, Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, api_token, bearer_client

pytestmark = pytest.mark.django_db

VERSIONS = pytest.mark.parametrize("version", ["1", "2"])


def _projects(client, version="1") -> dict[str, dict]:
    """The caller's listed projects by id."""
    response = client.get(f"/api/v{version}/projects/")
    assert response.status_code == 200
    body = response.json()
    return {item["id"]: item for item in (body["data"] if version == "2" else body["results"])}


def _project_reads(captured) -> int:
    return sum('FROM "projects_project"' in query["sql"] for query in captured.captured_queries)


@pytest.fixture
def shared(db):
    """A project with an owner and an editor; returns (project, owner, editor)."""
    project = ProjectFactory()
    owner = MembershipFactory(project=project, role=Role.OWNER).user
    editor = MembershipFactory(project=project, role=Role.EDITOR).user
    return project, owner, editor


@VERSIONS
def test_the_second_list_is_read_from_the_cache(shared, settings, version):
    assert settings.PROJECT_LIST_CACHE_SECONDS > 0
    _, owner, _ = shared
    client = client_for(owner)
    first = _projects(client, version)
    with CaptureQueriesContext(connection) as captured:
        assert _projects(client, version) == first
    assert _project_reads(captured) == 0


def test_without_the_cache_every_list_reads_the_database(shared, settings):
    settings.PROJECT_LIST_CACHE_SECONDS = 0
    _, owner, _ = shared
    client = client_for(owner)
    _projects(client)
    with CaptureQueriesContext(connection) as captured:
        _projects(client)
    assert _project_reads(captured) == 1


def test_one_users_cached_list_is_never_served_to_another(shared):
    project, owner, _ = shared
    other = MembershipFactory(role=Role.OWNER).user
    assert list(_projects(client_for(owner))) == [str(project.id)]  # cached for the owner now
    assert str(project.id) not in _projects(client_for(other))


def test_a_project_bound_token_is_not_served_the_users_full_list(shared):
    project, owner, _ = shared
    elsewhere = MembershipFactory(user=owner, role=Role.OWNER).project
    assert set(_projects(client_for(owner))) == {str(project.id), str(elsewhere.id)}
    bound = bearer_client(api_token(owner, "read", project=elsewhere))
    assert list(_projects(bound)) == [str(elsewhere.id)]


def test_the_pages_and_versions_are_cached_apart(shared):
    _, owner, _ = shared
    client = client_for(owner)
    assert "results" in client.get("/api/v1/projects/").json()
    assert "data" in client.get("/api/v2/projects/").json()
    assert client.get("/api/v1/projects/?page_size=1&search=nothing-matches").json()["results"] == []


# --- Each write is visible in the next read ------------------------------------------------------------------------


def test_a_renamed_project_is_listed_renamed_for_every_member(shared):
    project, owner, editor = shared
    editor_client = client_for(editor)
    _projects(editor_client)
    response = client_for(owner).patch(f"/api/v1/projects/{project.id}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    assert _projects(editor_client)[str(project.id)]["name"] == "Renamed"


def test_a_project_saved_outside_the_api_is_listed_fresh(shared):
    project, owner, _ = shared
    client = client_for(owner)
    _projects(client)
    project.name = "Saved in the admin"
    project.save()
    assert _projects(client)[str(project.id)]["name"] == "Saved in the admin"


def test_a_created_project_is_listed_at_once(shared):
    _, owner, _ = shared
    client = client_for(owner)
    _projects(client)
    created = client.post("/api/v1/projects/", {"name": "Brand new"}, format="json").json()
    assert created["id"] in _projects(client)


def test_a_deleted_project_leaves_every_members_list(shared):
    project, owner, editor = shared
    editor_client = client_for(editor)
    assert str(project.id) in _projects(editor_client)
    assert client_for(owner).delete(f"/api/v1/projects/{project.id}/").status_code == 204
    assert _projects(editor_client) == {}


def test_a_changed_role_is_listed_at_once(shared):
    project, owner, editor = shared
    editor_client = client_for(editor)
    assert _projects(editor_client)[str(project.id)]["role"] == Role.EDITOR
    membership = Membership.objects.get(project=project, user=editor)
    url = f"/api/v1/projects/{project.id}/members/{membership.id}/"
    assert client_for(owner).patch(url, {"role": Role.ADMIN}, format="json").status_code == 200
    assert _projects(editor_client)[str(project.id)]["role"] == Role.ADMIN


def test_a_removed_member_no_longer_lists_the_project(shared):
    project, owner, editor = shared
    editor_client = client_for(editor)
    _projects(editor_client)
    membership = Membership.objects.get(project=project, user=editor)
    assert client_for(owner).delete(f"/api/v1/projects/{project.id}/members/{membership.id}/").status_code == 204
    assert _projects(editor_client) == {}


def test_a_new_membership_is_listed_at_once(shared):
    project, _, _ = shared
    newcomer = UserFactory()
    client = client_for(newcomer)
    assert _projects(client) == {}
    MembershipFactory(project=project, user=newcomer)  # what accepting an invitation creates
    assert str(project.id) in _projects(client)


def test_an_erasure_that_hands_a_project_over_is_listed_at_once(shared):
    project, owner, editor = shared
    editor_client = client_for(editor)
    assert _projects(editor_client)[str(project.id)]["role"] == Role.EDITOR
    user_erase(user=owner, via="admin")
    assert _projects(editor_client)[str(project.id)]["role"] == Role.OWNER


@pytest.mark.django_db(transaction=True)
def test_the_list_is_dropped_again_when_the_write_commits(shared):
    project, owner, editor = shared
    editor_client = client_for(editor)
    _projects(editor_client)
    response = client_for(owner).patch(f"/api/v1/projects/{project.id}/", {"name": "Committed"}, format="json")
    assert response.status_code == 200
    assert _projects(editor_client)[str(project.id)]["name"] == "Committed"


def test_a_body_computed_across_a_write_is_not_served_after_it(shared):
    """The race the generation closes: a read takes the generation and queries; meanwhile a write drops the
    generation and a second read stores the new body under a new one; then the first read stores what it saw,
    over the second's entry. The next read must not be served that."""
    _, owner, _ = shared
    request = Request(APIRequestFactory().get("/api/v1/projects/"))
    request.user, request.version = owner, "1"

    def read(body):
        return read_cache.cached_list(request, namespace="test", seconds=30, compute=lambda: Response(body)).data

    def during_a_write_and_a_read():
        read_cache.forget("test", [owner.pk])
        assert read({"results": ["after the write"]}) == {"results": ["after the write"]}
        return Response({"results": ["before the write"]})

    read({"results": ["first"]})  # a generation exists
    read_cache.forget("test", [owner.pk])
    read_cache.cached_list(request, namespace="test", seconds=30, compute=during_a_write_and_a_read)

    assert read({"results": ["queried again"]}) == {"results": ["queried again"]}
    assert read({"results": []}) == {"results": ["queried again"]}  # and that one is cached
