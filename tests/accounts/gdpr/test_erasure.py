"""The erasure of a person: afterwards their email is in no column of any table, the audit chain still verifies,
and every way back in (tokens, sessions) is closed."""

import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.gdpr import erasure, export, ledger
from accounts.models import DataExport, User
from audit import context, recording, sealing, verification
from audit.models import AuditEvent, Category
from common.errors import Conflict
from projects.models import Membership, Project, Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory, WorkflowFactory
from tests.support import columns_containing
from workflows.models import Execution, ExecutionStatus, StepRun, WorkflowVersion

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "ada.lovelace@example.com"
ADDRESS = "198.51.100.7"


@pytest.fixture
def person(gdpr_storage):
    return UserFactory(email=EMAIL, full_name="Ada Lovelace", is_staff=True)


@pytest.fixture
def scene(person, api_client):
    """The person signed in (API and admin), a shared project and one of their own, an execution whose input
    holds their email in another case, an operator's admin log entry about them, and a ready export."""
    api_client.credentials(HTTP_USER_AGENT="Firefox/140")
    login = api_client.post(
        "/api/v1/auth/login/", {"email": EMAIL, "password": PASSWORD}, format="json", REMOTE_ADDR=ADDRESS
    )
    assert login.status_code == 200
    admin_session = Client()
    admin_session.force_login(person)
    other = UserFactory()
    shared = ProjectFactory(created_by=person)
    MembershipFactory(project=shared, user=person, role=Role.OWNER)
    MembershipFactory(project=shared, user=other, role=Role.ADMIN, invited_by=person)
    alone = ProjectFactory(created_by=person)
    MembershipFactory(project=alone, user=person, role=Role.OWNER)
    workflow = WorkflowFactory(project=shared, created_by=person)
    execution = Execution.objects.create(
        workflow=workflow,
        workflow_version=WorkflowVersion.objects.get(workflow=workflow),
        status=ExecutionStatus.COMPLETED,
        input={"to": "Ada.Lovelace@Example.com", "cc": [EMAIL]},
        output={"sent": f"mail sent to {EMAIL}"},
        triggered_by=person,
    )
    StepRun.objects.create(execution=execution, step_id="mail", type="transform", output={EMAIL: "ok"})
    operator = UserFactory(is_staff=True)
    LogEntry.objects.log_actions(
        operator.pk, [person], CHANGE, change_message=json.dumps([{"changed": {"fields": ["Full name"]}}])
    )
    export.data_export_build(export_id=DataExport.objects.create(user=person).pk)
    with context.unit(actor=context.Actor.user(person.pk), ip=ADDRESS, user_agent="Firefox/140"):
        recording.record(Category.REQUEST, "PATCH /api/v1/auth/me/", status_code=200)
    return {
        "login": login.json(),
        "shared": shared,
        "alone": alone,
        "other": other,
        "execution": execution,
        "admin_session": admin_session,
    }


def erase(person) -> dict:
    return erasure.user_erase(user=User.objects.get(pk=person.pk), via=erasure.Via.COMMAND)


def test_the_scene_has_the_email_in_many_places(scene):
    assert {"accounts_user.email", "django_admin_log.object_repr", "workflows_execution.input"} <= set(
        columns_containing(EMAIL)
    )


def test_after_erasure_the_email_is_in_no_column_of_any_table(person, scene):
    erase(person)

    assert columns_containing(EMAIL) == []
    assert columns_containing("Ada Lovelace") == []


def test_an_email_typed_into_a_description_leaves_no_trace_in_the_history(person, scene):
    shared = Project.objects.get(pk=scene["shared"].pk)
    shared.description = f"Ask {EMAIL} for access"
    shared.save()

    erase(person)

    assert columns_containing(EMAIL) == []


def test_erasure_rewrites_the_email_in_any_case_to_the_pseudonym(person, scene):
    erase(person)

    pseudonym = User.objects.get(pk=person.pk).email
    execution = Execution.objects.get(pk=scene["execution"].pk)
    assert execution.input == {"to": pseudonym, "cc": [pseudonym]}
    assert StepRun.objects.get(execution=execution).output == {pseudonym: "ok"}
    assert LogEntry.objects.get(object_id=str(person.pk)).object_repr == pseudonym


def test_the_audit_chain_still_verifies_after_erasure(person, scene):
    sealing.seal_all()

    erase(person)
    sealing.seal_all()

    assert verification.run().ok
    rows = AuditEvent.objects.filter(actor_id=person.pk)
    assert rows.exists() and not rows.exclude(ip=None, user_agent=None).exists()
    assert rows.exclude(ip_hash="").exists()  # the keyed hashes stay in the chain


def test_the_account_becomes_a_pseudonym(person, scene):
    erase(person)

    account = User.objects.get(pk=person.pk)
    assert account.email.startswith("erased-") and account.email.endswith("@invalid")
    assert account.full_name == ""
    assert not account.has_usable_password()
    assert not account.is_active and not account.is_staff and not account.is_superuser
    assert account.erased_at is not None


def test_refresh_tokens_no_longer_work(person, scene, api_client):
    erase(person)

    refused = api_client.post("/api/v1/auth/refresh/", {"refresh_token": scene["login"]["refresh_token"]})

    assert refused.status_code == 401


def test_access_token_no_longer_authenticates(person, scene, api_client):
    erase(person)

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {scene['login']['access_token']}")
    assert api_client.get("/api/v1/auth/me/").status_code == 401


def test_the_persons_sessions_are_deleted_and_others_kept(person, scene):
    Client().force_login(scene["other"])

    counts = erase(person)

    assert counts["sessions_deleted"] == 1
    assert Session.objects.count() == 1
    assert scene["admin_session"].get("/admin/").status_code == 302  # back to the login page


def test_projects_alone_are_deleted_and_shared_ones_handed_over(person, scene):
    erase(person)

    assert not Project.objects.filter(pk=scene["alone"].pk).exists()
    assert Membership.objects.get(project=scene["shared"], user=scene["other"]).role == Role.OWNER
    assert not Membership.objects.filter(user=person).exists()


def test_exports_and_their_documents_are_deleted(person, scene, gdpr_storage):
    counts = erase(person)

    assert counts["exports_deleted"] == 1
    assert not DataExport.objects.exists()
    assert not any(path.is_file() for path in gdpr_storage["exports"].rglob("*"))


def test_the_erasure_is_an_audit_event_without_the_email(person, scene):
    erase(person)

    event = AuditEvent.objects.get(action="gdpr.erasure")
    assert event.resource_id == str(person.pk)
    assert event.detail["via"] == "command" and event.detail["projects_deleted"] == 1
    assert EMAIL not in json.dumps(event.detail)


def test_the_erasure_is_in_the_ledger_with_id_and_time_only(person, scene, gdpr_storage):
    erase(person)

    [entry] = ledger.entries()
    assert entry.user_id == person.pk
    [stored] = (gdpr_storage["backups"] / "erasures").iterdir()
    assert set(json.loads(stored.read_text())) == {"user_id", "erased_at"}


def test_a_ledger_that_cannot_be_written_leaves_everything_as_it_was(person, scene, monkeypatch):
    def unreachable(**kwargs):
        raise OSError("backup storage unreachable")

    monkeypatch.setattr(ledger, "write", unreachable)

    with pytest.raises(OSError):
        erase(person)

    account = User.objects.get(pk=person.pk)
    assert account.email == EMAIL and account.is_active and account.erased_at is None
    assert Project.objects.filter(pk=scene["alone"].pk).exists()


def test_erasing_twice_is_a_conflict(person, scene):
    erase(person)

    with pytest.raises(Conflict):
        erase(person)


def test_command_refuses_without_yes_in_one_line(person):
    with pytest.raises(CommandError, match=r"^refusing to erase without --yes \(the erasure cannot be undone\)$"):
        call_command("gdpr_erase", "--email", EMAIL)

    assert User.objects.get(pk=person.pk).erased_at is None


def test_command_with_an_unknown_email_is_a_one_line_error():
    with pytest.raises(CommandError, match=r"^no account has this email address$"):
        call_command("gdpr_erase", "--email", "nobody@example.com", "--yes")


def test_command_erases_and_reports_by_id(person, capsys):
    call_command("gdpr_erase", "--email", EMAIL.upper(), "--yes")

    out = capsys.readouterr().out
    assert out.startswith(f"erased user {person.pk}: ") and EMAIL not in out
    assert User.objects.get(pk=person.pk).erased_at is not None


def _admin_client(*, can_change: bool) -> Client:
    from django.contrib.auth.models import Permission

    operator = UserFactory(is_staff=True)
    codenames = ["view_user", "change_user"] if can_change else ["view_user"]
    operator.user_permissions.set(
        Permission.objects.filter(content_type=ContentType.objects.get_for_model(User), codename__in=codenames)
    )
    client = Client()
    client.force_login(operator)
    return client


def _erase_in_admin(client, person):
    return client.post(
        "/admin/accounts/user/", {"action": "erase_selected", "_selected_action": [str(person.pk)]}, follow=True
    )


def test_admin_action_erases_the_selected_users(person):
    response = _erase_in_admin(_admin_client(can_change=True), person)

    assert response.status_code == 200
    assert User.objects.get(pk=person.pk).erased_at is not None
    assert AuditEvent.objects.get(action="gdpr.erasure").detail["via"] == "admin"
    assert columns_containing(EMAIL) == []


def test_admin_action_needs_the_change_permission(person):
    _erase_in_admin(_admin_client(can_change=False), person)

    assert User.objects.get(pk=person.pk).erased_at is None
