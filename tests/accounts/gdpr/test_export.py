"""The export document: the person's data, with purpose, recipients and retention, and no one else's."""

import json
import stat
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.gdpr import data_map, export
from accounts.models import DataExport, ExportStatus
from audit import context, recording, retention
from audit.models import AuditEvent, Category
from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, WorkflowFactory
from workflows.models import Execution, ExecutionStatus, StepRun, WorkflowVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return UserFactory(email="ada@example.com", full_name="Ada Lovelace")


@pytest.fixture
def shared_project(person):
    """A project the person created, with another member who has an email and a name of their own."""
    project = ProjectFactory(created_by=person)
    MembershipFactory(project=project, user=person, role=Role.OWNER)
    other = MembershipFactory(
        project=project, user=UserFactory(email="grace@example.com", full_name="Grace Hopper"), role=Role.EDITOR
    ).user
    return project, other


def _execution(workflow, *, by, input):
    version = WorkflowVersion.objects.get(workflow=workflow)
    execution = Execution.objects.create(
        workflow=workflow,
        workflow_version=version,
        status=ExecutionStatus.COMPLETED,
        input=input,
        output={"greeting": "HELLO ADA"},
        triggered_by=by,
    )
    StepRun.objects.create(execution=execution, step_id="greet", type="transform", output={"message": "Hello Ada"})
    return execution


def test_export_holds_the_persons_data(person, shared_project):
    project, other = shared_project
    workflow = WorkflowFactory(project=project, created_by=person)
    WorkflowVersion.objects.filter(workflow=workflow).update(created_by=person)
    mine = _execution(workflow, by=person, input={"name": "Ada"})
    with context.unit(actor=context.Actor.user(person.pk), ip="198.51.100.7", user_agent="ua/1"):
        recording.record(Category.AUTH, "auth.login.succeeded")

    document = export.document_for(person)

    assert document["profile"]["email"] == "ada@example.com"
    assert document["profile"]["full_name"] == "Ada Lovelace"
    assert [m["project_id"] for m in document["memberships"]] == [str(project.pk)]
    assert [p["id"] for p in document["projects"]] == [str(project.pk)]
    assert [w["id"] for w in document["workflows"]] == [str(workflow.pk)]
    assert [v["workflow_id"] for v in document["workflow_versions"]] == [str(workflow.pk)]
    [execution] = document["executions"]
    assert execution["id"] == str(mine.pk)
    assert execution["input"] == {"name": "Ada"} and execution["output"] == {"greeting": "HELLO ADA"}
    assert execution["steps"][0]["output"] == {"message": "Hello Ada"}
    [event] = [e for e in document["audit_events"] if e["action"] == "auth.login.succeeded"]
    assert event["ip"] == "198.51.100.7"


def test_export_names_other_members_by_id_only(person, shared_project):
    project, other = shared_project
    WorkflowFactory(project=project, created_by=other)
    _execution(WorkflowFactory(project=project), by=other, input={"name": "Grace", "mail": "grace@example.com"})
    with context.unit(actor=context.Actor.user(other.pk), ip="203.0.113.9", user_agent="other/1"):
        recording.record(Category.AUTH, "auth.login.succeeded")

    text = export.render(export.document_for(person)).decode()

    assert "grace@example.com" not in text and "Grace" not in text and "203.0.113.9" not in text
    members = json.loads(text)["projects"][0]["members"]
    assert str(other.pk) in {m["user_id"] for m in members}
    assert set(members[0]) == {"user_id", "role", "joined_at"}


def test_export_says_why_for_whom_and_how_long_for_each_class(person):
    classes = {c["name"]: c for c in export.document_for(person)["data_classes"]}

    assert set(classes) == {c.name for c in data_map.DATA_CLASSES}
    assert classes["exports"]["retention"] == "7 days"
    assert classes["executions"]["retention"].startswith("inputs and outputs emptied after 90 days")
    assert all(c["purpose"] and c["legal_basis"] and c["recipients"] for c in classes.values())


def test_build_stores_one_json_document_and_is_ready_for_seven_days(person, gdpr_storage):
    requested = DataExport.objects.create(user=person)

    built = export.data_export_build(export_id=requested.pk)

    assert built.status == ExportStatus.READY
    assert built.expires_at - built.finished_at == timedelta(days=7)
    stored = json.loads((gdpr_storage["exports"] / built.file_key).read_bytes())
    assert stored["subject"] == {"id": str(person.pk)}


def test_build_twice_leaves_a_ready_export_alone(person, gdpr_storage):
    requested = DataExport.objects.create(user=person)
    first = export.data_export_build(export_id=requested.pk)

    second = export.data_export_build(export_id=requested.pk)

    assert (second.file_key, second.finished_at) == (first.file_key, first.finished_at)
    assert len(list((gdpr_storage["exports"] / str(person.pk)).iterdir())) == 1


def test_command_writes_the_document_privately_and_records_it_without_the_email(person, tmp_path):
    out = tmp_path / "ada.json"

    call_command("gdpr_export", "--email", "ADA@example.com", "--output", str(out))

    assert json.loads(out.read_bytes())["profile"]["email"] == "ada@example.com"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    event = AuditEvent.objects.get(action="gdpr.export")
    assert event.actor_label.startswith("system:cli:") and event.resource_id == str(person.pk)
    assert "ada@example.com" not in json.dumps(event.detail)


def test_command_with_an_unknown_email_is_a_one_line_error(tmp_path):
    with pytest.raises(CommandError, match=r"^no account has this email address$"):
        call_command("gdpr_export", "--email", "nobody@example.com", "--output", str(tmp_path / "x.json"))


def _finished(user, *, days_ago: int, gdpr_storage) -> DataExport:
    built = export.data_export_build(export_id=DataExport.objects.create(user=user).pk)
    finished = timezone.now() - timedelta(days=days_ago)
    DataExport.objects.filter(pk=built.pk).update(finished_at=finished, expires_at=finished + timedelta(days=7))
    return built


def test_retention_removes_expired_exports_and_their_documents_only(person, gdpr_storage):
    old = _finished(person, days_ago=8, gdpr_storage=gdpr_storage)
    recent = _finished(person, days_ago=2, gdpr_storage=gdpr_storage)
    pending = DataExport.objects.create(user=person)

    counts = retention.run()

    assert counts["exports"] == 1
    assert set(DataExport.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
    assert not (gdpr_storage["exports"] / old.file_key).exists()
    assert (gdpr_storage["exports"] / recent.file_key).exists()


def test_retention_dry_run_counts_and_removes_nothing(person, gdpr_storage):
    _finished(person, days_ago=8, gdpr_storage=gdpr_storage)

    removed = export.data_exports_purge(timezone.now() - timedelta(days=7), dry_run=True)

    assert removed == 1 and DataExport.objects.count() == 1


def test_an_export_past_its_download_period_is_expired(person, gdpr_storage):
    built = _finished(person, days_ago=8, gdpr_storage=gdpr_storage)

    assert DataExport.objects.get(pk=built.pk).current_status == ExportStatus.EXPIRED
