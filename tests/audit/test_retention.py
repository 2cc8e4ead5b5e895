"""Retention: exactly the expired rows of each class go, and the audit chain still verifies."""

import datetime

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from audit import recording, retention, sealing
from audit.models import AuditEvent, AuditRemoval, AuditSeal, Category, SealKind
from tests.factories import WorkflowFactory
from workflows.models import Execution, StepRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def age(model, pk, days: int, column: str = "created_at") -> None:
    """Make a row look older (behind the trigger, as only a test may)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        table = model._meta.db_table
        cursor.execute(f"UPDATE {table} SET {column} = {column} - make_interval(days => %s) WHERE id = %s", [days, pk])


def event(action: str, *, days_old: int = 0, ip: str | None = "198.51.100.7") -> AuditEvent:
    from audit import context

    with context.unit(ip=ip, user_agent="ua/1"):
        row = recording.record(Category.AUTH, action)
    if days_old:
        age(AuditEvent, row.pk, days_old)
    return row


def test_old_login_failures_go_and_the_chain_still_verifies():
    event(retention.LOGIN_FAILED, days_old=91)
    recent = event(retention.LOGIN_FAILED, days_old=10)
    kept = event("auth.login.succeeded", days_old=91)
    sealing.seal_all()
    counts = retention.run()
    assert counts["login_failures"] == 1
    assert set(AuditEvent.objects.filter(action__startswith="auth.").values_list("pk", flat=True)) == {
        recent.pk,
        kept.pk,
    }
    assert AuditRemoval.objects.count() == 1
    sealing.seal_all()
    assert sealing.verify().removed == 1


def test_addresses_and_user_agents_are_cleared_after_90_days_and_rows_kept():
    old, recent = event("auth.login.succeeded", days_old=95), event("auth.login.succeeded", days_old=5)
    sealing.seal_all()
    retention.run()
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.ip, old.user_agent) == (None, None)
    assert old.ip_hash  # its keyed hash stays in the chain
    assert recent.ip == "198.51.100.7"
    sealing.seal_all()
    sealing.verify()


def test_audit_rows_past_400_days_go_up_to_a_seal_behind_a_checkpoint():
    ancient = event("auth.login.succeeded")
    (first,) = sealing.seal_all()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_auditseal SET created_at = now() - interval '401 days' WHERE id = %s", [first.pk])
    age(AuditEvent, ancient.pk, 401)
    young = event("auth.login.succeeded")
    sealing.seal_all()
    counts = retention.run()
    assert counts["audit_rows"] >= 1
    assert not AuditEvent.objects.filter(pk=ancient.pk).exists()
    assert AuditEvent.objects.filter(pk=young.pk).exists()
    assert AuditSeal.objects.filter(kind=SealKind.CHECKPOINT, last_sequence=first.last_sequence).exists()
    sealing.seal_all()
    assert sealing.verify().rows >= 2


def test_execution_payloads_are_emptied_after_90_days():
    workflow = WorkflowFactory()
    version = workflow.versions.get()
    finished = timezone.now() - datetime.timedelta(days=91)
    old = Execution.objects.create(
        workflow=workflow, workflow_version=version, input={"q": "prompt"}, output={"a": 1}, finished_at=finished
    )
    StepRun.objects.create(execution=old, step_id="s", type="llm", output={"text": "answer"}, error="e")
    fresh = Execution.objects.create(workflow=workflow, workflow_version=version, input={"q": "keep"})
    call_command("retention_run")
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.input, old.output) == ({}, None)
    assert StepRun.objects.get(execution=old).output is None
    assert fresh.input == {"q": "keep"}


def test_dry_run_counts_and_changes_nothing(capsys):
    event(retention.LOGIN_FAILED, days_old=91)
    sealing.seal_all()
    call_command("retention_run", "--dry-run")
    out = capsys.readouterr().out
    assert "login_failures: would remove 1 (older than 90 days)" in out
    assert AuditEvent.objects.filter(action=retention.LOGIN_FAILED).count() == 1


def test_each_run_is_an_audit_event():
    retention.run()
    run = AuditEvent.objects.get(action="retention.run")
    assert set(run.detail["counts"]) >= {"audit_personal", "login_failures", "audit_rows", "execution_payloads"}
