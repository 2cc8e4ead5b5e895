import pytest

from projects.models import Membership, Project, Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"


def detail(project) -> str:
    return f"{PROJECTS}{project.pk}/"


def test_create_project_makes_the_creator_owner(auth_client, user):
    response = auth_client.post(PROJECTS, {"name": "Support Bot", "description": "Tier 1"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "slug", "description", "created_at", "updated_at", "role"}
    assert (body["slug"], body["role"]) == ("support-bot", "owner")
    assert Membership.objects.get(project_id=body["id"], user=user).role == Role.OWNER


def test_create_project_generates_a_unique_slug(auth_client):
    first = auth_client.post(PROJECTS, {"name": "Same"}, format="json").json()
    second = auth_client.post(PROJECTS, {"name": "Same"}, format="json").json()
    assert (first["slug"], second["slug"]) == ("same", "same-2")


def test_create_project_with_one_of_my_slugs_is_400(auth_client):
    auth_client.post(PROJECTS, {"name": "First", "slug": "taken"}, format="json")
    response = auth_client.post(PROJECTS, {"name": "X", "slug": "taken"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["slug"] == ["You already have a project with this slug."]


def test_another_tenants_slug_cannot_be_probed(auth_client):
    """Security review, weakness 6: slugs were unique across tenants, so a 400 told that another tenant had one."""
    ProjectFactory(slug="acme-secret-merger", created_by=UserFactory())

    response = auth_client.post(PROJECTS, {"name": "X", "slug": "acme-secret-merger"}, format="json")

    assert response.status_code == 201
    assert response.json()["slug"] == "acme-secret-merger"


def test_a_generated_slug_does_not_reveal_another_tenants(auth_client):
    ProjectFactory(slug="same", created_by=UserFactory())
    assert auth_client.post(PROJECTS, {"name": "Same"}, format="json").json()["slug"] == "same"


def test_renaming_to_another_tenants_slug_is_allowed(auth_client):
    ProjectFactory(slug="theirs", created_by=UserFactory())
    mine = auth_client.post(PROJECTS, {"name": "Mine"}, format="json").json()
    response = auth_client.patch(f"{PROJECTS}{mine['id']}/", {"slug": "theirs"}, format="json")
    assert (response.status_code, response.json()["slug"]) == (200, "theirs")


def test_create_project_without_name_is_400(auth_client):
    response = auth_client.post(PROJECTS, {"description": "no name"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_projects_require_authentication(api_client):
    assert api_client.get(PROJECTS).status_code == 401


def test_list_shows_only_my_projects_with_my_role(auth_client, user):
    mine = MembershipFactory(user=user, role=Role.EDITOR).project
    ProjectFactory()
    response = auth_client.get(PROJECTS)
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == str(mine.pk)
    assert body["results"][0]["role"] == "editor"


def test_list_is_paginated_with_capped_page_size(auth_client, user):
    for _ in range(3):
        MembershipFactory(user=user)
    body = auth_client.get(PROJECTS, {"page_size": 2}).json()
    assert (body["count"], len(body["results"]), body["previous"]) == (3, 2, None)
    assert "page=2" in body["next"]
    assert auth_client.get(PROJECTS, {"page_size": 10_000}).status_code == 200


def test_list_orders_and_searches(auth_client, user):
    for name in ("Bravo", "Alpha", "Charlie"):
        MembershipFactory(user=user, project=ProjectFactory(name=name))
    names = [p["name"] for p in auth_client.get(PROJECTS, {"ordering": "-name"}).json()["results"]]
    assert names == ["Charlie", "Bravo", "Alpha"]
    found = auth_client.get(PROJECTS, {"search": "alp"}).json()["results"]
    assert [p["name"] for p in found] == ["Alpha"]


def test_list_filters_by_role(auth_client, user):
    MembershipFactory(user=user, role=Role.OWNER)
    MembershipFactory(user=user, role=Role.VIEWER)
    results = auth_client.get(PROJECTS, {"role": "viewer"}).json()["results"]
    assert [p["role"] for p in results] == ["viewer"]


def test_retrieve_shows_role(project_with_roles):
    project, users = project_with_roles
    assert client_for(users["viewer"]).get(detail(project)).json()["role"] == "viewer"


def test_non_member_gets_404_not_403(project_with_roles):
    project, users = project_with_roles
    client = client_for(users["outsider"])
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(detail(project), {}, format="json")
        assert response.status_code == 404, method
        assert response["Content-Type"] == "application/problem+json"


def test_unknown_project_is_404(auth_client):
    assert auth_client.get(f"{PROJECTS}00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("editor", 403), ("admin", 200), ("owner", 200)])
def test_update_project_needs_admin(project_with_roles, role, expected):
    project, users = project_with_roles
    response = client_for(users[role]).patch(detail(project), {"description": "changed"}, format="json")
    assert response.status_code == expected


def test_update_project_changes_fields(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["owner"]).patch(detail(project), {"name": "Renamed", "slug": "renamed"}, format="json")
    assert (response.json()["name"], response.json()["slug"]) == ("Renamed", "renamed")


def test_update_project_to_a_slug_its_creator_has_is_400(project_with_roles):
    project, users = project_with_roles
    Project.objects.filter(pk=project.pk).update(created_by=users["owner"])
    ProjectFactory(slug="other", created_by=users["owner"])
    response = client_for(users["owner"]).patch(detail(project), {"slug": "other"}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("editor", 403), ("admin", 403), ("owner", 204)])
def test_only_owners_delete_a_project(project_with_roles, role, expected):
    project, users = project_with_roles
    assert client_for(users[role]).delete(detail(project)).status_code == expected
    assert Project.objects.filter(pk=project.pk).exists() is (expected != 204)


def test_forbidden_answers_problem_json_naming_the_needed_role(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["viewer"]).delete(detail(project))
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert (body["status"], body["title"]) == (403, "Forbidden")
    assert "owner" in body["detail"]


def test_put_is_not_allowed(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["owner"]).put(detail(project), {"name": "x"}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"


def test_a_user_sees_only_their_projects_among_many(db):
    alice, bob = UserFactory(), UserFactory()
    for _ in range(3):
        MembershipFactory(user=alice)
    MembershipFactory(user=bob)
    assert client_for(alice).get(PROJECTS).json()["count"] == 3
    assert client_for(bob).get(PROJECTS).json()["count"] == 1
