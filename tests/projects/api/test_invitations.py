"""Project invitations: who manages them, the mailed single-use token, acceptance, and the hijack it prevents."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent, ModelHistory
from projects import services, tasks
from projects.models import Invitation, InvitationStatus, Membership, Role
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.support import columns_containing

pytestmark = pytest.mark.django_db

ACCEPT = "/api/v1/invitations/accept/"


def invitations(project) -> str:
    return f"/api/v1/projects/{project.pk}/invitations/"


def verified(**fields):
    return UserFactory(email_verified_at=timezone.now(), **fields)


def invite(project, inviter, email, role="editor"):
    response = client_for(inviter).post(invitations(project), {"email": email, "role": role}, format="json")
    assert response.status_code == 201, response.json()
    return Invitation.objects.get(pk=response.json()["id"])


def mail_invitation(invitation) -> str:
    """Run the mail task's body (the task's code, in this process) and return the token of the mail."""
    tasks.send_invitation(str(invitation.pk))
    return re.search(r"#token=(\S+)", mail.outbox[-1].body).group(1)


def accept(user, token):
    return client_for(user).post(ACCEPT, {"token": token}, format="json")


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("editor", 403), ("admin", 201), ("owner", 201)])
def test_inviting_needs_admin(project_with_roles, role, expected):
    project, users = project_with_roles
    response = client_for(users[role]).post(invitations(project), {"email": "new@example.com"}, format="json")
    assert response.status_code == expected


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("editor", 403), ("admin", 200), ("owner", 200)])
def test_listing_invitations_needs_admin(project_with_roles, role, expected):
    project, users = project_with_roles
    assert client_for(users[role]).get(invitations(project)).status_code == expected


def test_non_member_gets_404_for_invitations(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    client = client_for(users["outsider"])
    assert client.get(invitations(project)).status_code == 404
    assert client.post(invitations(project), {"email": "x@example.com"}, format="json").status_code == 404
    assert client.delete(f"{invitations(project)}{invitation.pk}/").status_code == 404


def test_only_owners_invite_owners(project_with_roles):
    project, users = project_with_roles
    body = {"email": "new@example.com", "role": "owner"}
    assert client_for(users["admin"]).post(invitations(project), body, format="json").status_code == 403
    assert client_for(users["owner"]).post(invitations(project), body, format="json").status_code == 201


def test_the_list_shows_the_invitation_without_its_token(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "New@Example.com")
    mail_invitation(invitation)
    body = client_for(users["admin"]).get(invitations(project)).json()
    assert body["count"] == 1
    row = body["results"][0]
    fields = {"id", "email", "role", "status", "invited_by", "mailed", "expires_at", "accepted_at", "created_at"}
    assert set(row) == fields
    assert (row["email"], row["role"], row["status"], row["mailed"]) == ("new@example.com", "editor", "pending", True)
    assert row["invited_by"] == str(users["admin"].pk)


def test_a_member_cannot_be_invited(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["admin"]).post(invitations(project), {"email": users["viewer"].email}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_a_second_pending_invitation_of_an_address_is_409(project_with_roles):
    project, users = project_with_roles
    invite(project, users["admin"], "new@example.com")
    response = client_for(users["admin"]).post(invitations(project), {"email": "new@example.com"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "already_invited"


def test_an_expired_invitation_makes_room_for_a_new_one(project_with_roles):
    project, users = project_with_roles
    old = invite(project, users["admin"], "new@example.com")
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    invite(project, users["admin"], "new@example.com")
    old.refresh_from_db()
    assert old.status == InvitationStatus.EXPIRED


def test_invitations_expire_after_seven_days(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    assert timedelta(days=7) - (invitation.expires_at - invitation.created_at) < timedelta(seconds=5)


def test_the_mail_carries_a_token_of_which_only_the_hash_is_stored(project_with_roles, settings):
    settings.FRONTEND_URL = "https://app.example.com"
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    token = mail_invitation(invitation)
    message = mail.outbox[-1]
    assert message.to == ["new@example.com"]
    assert project.name in message.subject
    assert f"https://app.example.com/invitations/accept#token={token}" in message.body
    assert token.startswith("inv_") and len(token) >= 4 + 43
    invitation.refresh_from_db()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert columns_containing(token) == []


def test_a_second_run_of_the_mail_task_sends_nothing(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    mail_invitation(invitation)
    assert services.invitation_send(invitation_id=invitation.pk) is False
    assert len(mail.outbox) == 1


def test_the_invited_verified_address_accepts_and_becomes_a_member(project_with_roles):
    project, users = project_with_roles
    invitee = verified(email="new@example.com")
    token = mail_invitation(invite(project, users["admin"], "new@example.com", role="editor"))
    assert client_for(invitee).get(f"/api/v1/projects/{project.pk}/").status_code == 404
    response = accept(invitee, token)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["role"]) == (str(project.pk), "editor")
    membership = Membership.objects.get(project=project, user=invitee)
    assert (membership.role, membership.invited_by) == (Role.EDITOR, users["admin"])
    assert client_for(invitee).get(f"/api/v1/projects/{project.pk}/").json()["role"] == "editor"


def test_the_token_works_once(project_with_roles):
    project, users = project_with_roles
    invitee = verified(email="new@example.com")
    token = mail_invitation(invite(project, users["admin"], "new@example.com"))
    accept(invitee, token)
    response = accept(invitee, token)
    assert response.status_code == 410
    assert response.json()["code"] == "invitation_used"


def test_an_unverified_account_with_the_invited_address_cannot_accept(project_with_roles):
    """The hijack: registering the invited address first (without proving it) gets nothing."""
    project, users = project_with_roles
    squatter = UserFactory(email="new@example.com")
    token = mail_invitation(invite(project, users["admin"], "new@example.com"))
    response = accept(squatter, token)
    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"
    assert not Membership.objects.filter(project=project, user=squatter).exists()
    assert client_for(squatter).get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_another_verified_address_gets_the_same_404_as_an_unknown_token(project_with_roles):
    project, users = project_with_roles
    stranger = verified(email="stranger@example.com")
    token = mail_invitation(invite(project, users["admin"], "new@example.com"))
    mismatch, unknown = accept(stranger, token), accept(stranger, "inv_" + "x" * 43)
    assert mismatch.status_code == unknown.status_code == 404
    assert mismatch.json()["detail"] == unknown.json()["detail"]
    assert project.name not in mismatch.content.decode()
    assert not Membership.objects.filter(project=project, user=stranger).exists()


def test_a_revoked_invitation_cannot_be_accepted(project_with_roles):
    project, users = project_with_roles
    invitee = verified(email="new@example.com")
    invitation = invite(project, users["admin"], "new@example.com")
    token = mail_invitation(invitation)
    assert client_for(users["admin"]).delete(f"{invitations(project)}{invitation.pk}/").status_code == 204
    response = accept(invitee, token)
    assert response.status_code == 410
    assert response.json()["code"] == "invitation_revoked"


def test_an_expired_invitation_cannot_be_accepted(project_with_roles):
    project, users = project_with_roles
    invitee = verified(email="new@example.com")
    invitation = invite(project, users["admin"], "new@example.com")
    token = mail_invitation(invitation)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = accept(invitee, token)
    assert response.status_code == 410
    assert response.json()["code"] == "invitation_expired"


def test_revoking_twice_is_409(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    client_for(users["admin"]).delete(f"{invitations(project)}{invitation.pk}/")
    assert client_for(users["admin"]).delete(f"{invitations(project)}{invitation.pk}/").status_code == 409


def test_an_editor_cannot_revoke(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    assert client_for(users["editor"]).delete(f"{invitations(project)}{invitation.pk}/").status_code == 403


def test_created_revoked_and_accepted_are_audit_events(project_with_roles):
    project, users = project_with_roles
    invitee = verified(email="new@example.com")
    revoked = invite(project, users["admin"], "gone@example.com")
    client_for(users["admin"]).delete(f"{invitations(project)}{revoked.pk}/")
    accept(invitee, mail_invitation(invite(project, users["admin"], "new@example.com")))
    actions = set(AuditEvent.objects.filter(project_id=project.pk).values_list("action", flat=True))
    assert {services.INVITATION_CREATED, services.INVITATION_REVOKED, services.INVITATION_ACCEPTED} <= actions


def test_the_history_keeps_neither_the_token_hash_nor_the_address(project_with_roles):
    project, users = project_with_roles
    invitation = invite(project, users["admin"], "new@example.com")
    mail_invitation(invitation)
    invitation.refresh_from_db()
    entries = ModelHistory.objects.filter(object_pk=str(invitation.pk))
    assert entries.exists()
    text = " ".join(f"{e.changes} {e.object_repr}" for e in entries)
    assert invitation.token_hash not in text
    assert "new@example.com" not in text


def test_v2_wraps_the_invitation(project_with_roles):
    project, users = project_with_roles
    url = f"/api/v2/projects/{project.pk}/invitations/"
    body = client_for(users["admin"]).post(url, {"email": "new@example.com"}, format="json").json()
    assert body["data"]["status"] == "pending"
    assert body["meta"]["api_version"] == "2"


def test_accepting_needs_authentication(api_client):
    assert api_client.post(ACCEPT, {"token": "inv_x"}, format="json").status_code == 401


@pytest.mark.parametrize("version", ["1", "2"])
def test_the_schema_documents_the_members_post_as_an_invitation(api_client, version):
    schema = api_client.get(f"/api/v{version}/schema/?format=json").json()
    post = schema["paths"][f"/api/v{version}/projects/{{project_pk}}/members/"]["post"]
    assert "201" not in post["responses"]
    assert {"202", "409"} <= set(post["responses"])
    accept_op = schema["paths"][f"/api/v{version}/invitations/accept/"]["post"]
    assert {"403", "404", "409", "410"} <= set(accept_op["responses"])
