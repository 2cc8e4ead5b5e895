import pytest

from projects.models import Invitation, Membership, Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def members(project) -> str:
    return f"/api/v1/projects/{project.pk}/members/"


def member(project, membership) -> str:
    return f"{members(project)}{membership.pk}/"


def membership_of(project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


def test_every_member_lists_members(project_with_roles):
    project, users = project_with_roles
    body = client_for(users["viewer"]).get(members(project)).json()
    assert body["count"] == 4
    assert {m["role"] for m in body["results"]} == set(Role.values)
    assert set(body["results"][0]) == {"id", "user", "email", "role", "created_at", "updated_at"}


def test_non_member_gets_404_for_members(project_with_roles):
    project, users = project_with_roles
    client = client_for(users["outsider"])
    assert client.get(members(project)).status_code == 404
    target = membership_of(project, users["viewer"])
    assert client.patch(member(project, target), {"role": "admin"}, format="json").status_code == 404
    assert client.delete(member(project, target)).status_code == 404


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("editor", 403), ("admin", 202), ("owner", 202)])
def test_adding_members_needs_admin(project_with_roles, role, expected):
    project, users = project_with_roles
    newcomer = UserFactory()
    response = client_for(users[role]).post(
        members(project), {"email": newcomer.email, "role": "editor"}, format="json"
    )
    assert response.status_code == expected


def test_adding_by_email_invites_instead_of_adding(project_with_roles):
    """Issue 12: an account with the address is no proof of owning it, so the POST answers a pending invitation."""
    project, users = project_with_roles
    newcomer = UserFactory()
    response = client_for(users["admin"]).post(
        members(project), {"email": newcomer.email.upper(), "role": "viewer"}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert response.json()["email"] == newcomer.email
    assert not Membership.objects.filter(project=project, user=newcomer).exists()
    assert client_for(newcomer).get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_adding_an_address_without_account_invites_it(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["admin"]).post(members(project), {"email": "nobody@example.com"}, format="json")
    assert response.status_code == 202
    assert Invitation.objects.get(project=project).email == "nobody@example.com"


def test_adding_an_existing_member_is_400(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["admin"]).post(members(project), {"email": users["viewer"].email}, format="json")
    assert response.status_code == 400


def test_adding_with_unknown_role_is_400(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["admin"]).post(
        members(project), {"email": UserFactory().email, "role": "god"}, format="json"
    )
    assert "role" in response.json()["errors"]


def test_admin_cannot_grant_owner(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["admin"]).post(
        members(project), {"email": UserFactory().email, "role": "owner"}, format="json"
    )
    assert response.status_code == 403


def test_owner_can_grant_owner(project_with_roles):
    project, users = project_with_roles
    target = membership_of(project, users["editor"])
    response = client_for(users["owner"]).patch(member(project, target), {"role": "owner"}, format="json")
    assert response.status_code == 200
    assert membership_of(project, users["editor"]).role == Role.OWNER


def test_editor_cannot_manage_members(project_with_roles):
    project, users = project_with_roles
    target = membership_of(project, users["viewer"])
    client = client_for(users["editor"])
    assert client.patch(member(project, target), {"role": "editor"}, format="json").status_code == 403
    assert client.delete(member(project, target)).status_code == 403


def test_admin_changes_roles_below_owner(project_with_roles):
    project, users = project_with_roles
    target = membership_of(project, users["viewer"])
    response = client_for(users["admin"]).patch(member(project, target), {"role": "editor"}, format="json")
    assert response.json()["role"] == "editor"


def test_admin_cannot_demote_or_remove_an_owner(project_with_roles):
    project, users = project_with_roles
    owner = membership_of(project, users["owner"])
    client = client_for(users["admin"])
    assert client.patch(member(project, owner), {"role": "viewer"}, format="json").status_code == 403
    assert client.delete(member(project, owner)).status_code == 403


def test_last_owner_cannot_leave(project_with_roles):
    project, users = project_with_roles
    owner = membership_of(project, users["owner"])
    response = client_for(users["owner"]).delete(member(project, owner))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_last_owner_cannot_be_demoted(project_with_roles):
    project, users = project_with_roles
    owner = membership_of(project, users["owner"])
    response = client_for(users["owner"]).patch(member(project, owner), {"role": "admin"}, format="json")
    assert response.status_code == 400
    assert membership_of(project, users["owner"]).role == Role.OWNER


def test_an_owner_can_leave_when_another_owner_remains(project_with_roles):
    project, users = project_with_roles
    second = MembershipFactory(project=project, role=Role.OWNER)
    first = membership_of(project, users["owner"])
    assert client_for(users["owner"]).delete(member(project, first)).status_code == 204
    assert Membership.objects.filter(project=project, role=Role.OWNER).get() == second


def test_any_member_can_leave(project_with_roles):
    project, users = project_with_roles
    me = membership_of(project, users["viewer"])
    assert client_for(users["viewer"]).delete(member(project, me)).status_code == 204
    assert client_for(users["viewer"]).get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_membership_of_another_project_is_404(project_with_roles):
    project, users = project_with_roles
    elsewhere = MembershipFactory()
    response = client_for(users["owner"]).delete(f"{members(project)}{elsewhere.pk}/")
    assert response.status_code == 404
