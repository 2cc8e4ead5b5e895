"""The chain: gap-free sequences, seals in the database and in storage, the append-only trigger, and audit_verify
catching a row changed, deleted or inserted behind the trigger's back."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import recording, sealing
from audit.chain import storage_key
from audit.models import AuditEvent, AuditSeal, Category, ModelHistory
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


def write_rows(count: int = 5) -> list[AuditEvent]:
    ProjectFactory()  # a history row too
    return [recording.record(Category.OPERATION, f"test.event.{n}") for n in range(count)]


def sequences() -> list[int]:
    found = list(AuditEvent.objects.values_list("sequence", flat=True)) + list(
        ModelHistory.objects.values_list("sequence", flat=True)
    )
    return sorted(found)


def test_sealing_numbers_every_row_gap_free_across_both_tables():
    write_rows()
    sealing.seal_all(batch=3)
    assert sequences() == list(range(1, len(sequences()) + 1))
    seals = list(AuditSeal.objects.order_by("last_sequence"))
    assert [s.first_sequence for s in seals[1:]] == [s.last_sequence + 1 for s in seals[:-1]]
    assert seals[0].previous_hash == "0" * 64
    assert all(later.previous_hash == earlier.seal_hash for earlier, later in zip(seals, seals[1:], strict=False))


def test_each_seal_has_a_copy_in_backup_storage(backup_dir):
    write_rows()
    (seal,) = sealing.seal_all()
    assert (backup_dir / storage_key(seal.last_sequence)).exists()


def test_verify_passes_on_an_untouched_chain():
    write_rows()
    call_command("audit_seal")
    result = sealing.verify()
    assert (result.rows, result.first) == (len(sequences()), 1)


def test_the_trigger_refuses_update_delete_and_truncate():
    (event, *_) = write_rows(1)
    for statement in (
        "UPDATE audit_auditevent SET action = 'forged'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL audit.allow_truncate = off")
            cursor.execute(statement)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event.0"


def behind_the_trigger(sql: str, params=()) -> None:
    """What a database superuser could do: disable the triggers and write."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def test_verify_names_a_row_changed_behind_the_trigger():
    events = write_rows()
    sealing.seal_all()
    target = AuditEvent.objects.get(pk=events[2].pk)
    behind_the_trigger("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s", [target.pk])
    with pytest.raises(CommandError, match=f"row changed or reordered: sequence {target.sequence}, event {target.pk}"):
        call_command("audit_verify")


def test_verify_names_a_row_deleted_behind_the_trigger():
    events = write_rows()
    sealing.seal_all()
    target = AuditEvent.objects.get(pk=events[1].pk)
    behind_the_trigger("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
    with pytest.raises(CommandError, match=f"row deleted: sequence {target.sequence}, event {target.pk}"):
        call_command("audit_verify")


def test_verify_names_a_row_inserted_behind_the_trigger():
    write_rows()
    (seal,) = sealing.seal_all()
    forged = recording.record(Category.AUTH, "auth.login.succeeded")
    behind_the_trigger("UPDATE audit_auditevent SET sequence = %s WHERE id = %s", [seal.last_sequence + 7, forged.pk])
    with pytest.raises(CommandError, match=f"row inserted: sequence {seal.last_sequence + 7}, event {forged.pk}"):
        call_command("audit_verify")


def test_verify_names_an_old_row_slipped_in_without_a_sequence(settings):
    write_rows()
    sealing.seal_all()
    forged = recording.record(Category.AUTH, "auth.login.succeeded")
    behind_the_trigger(
        "UPDATE audit_auditevent SET created_at = created_at - interval '1 day' WHERE id = %s", [forged.pk]
    )
    with pytest.raises(CommandError, match=f"row inserted: event {forged.pk}"):
        call_command("audit_verify")


def test_a_rewritten_seal_fails_its_hmac_and_its_storage_copy():
    write_rows()
    (seal,) = sealing.seal_all()
    behind_the_trigger("UPDATE audit_auditseal SET previous_hash = %s WHERE id = %s", ["f" * 64, seal.pk])
    with pytest.raises(CommandError, match=f"seal {seal.first_sequence}..{seal.last_sequence}"):
        call_command("audit_verify")


def test_a_missing_storage_copy_is_reported(backup_dir):
    write_rows()
    (seal,) = sealing.seal_all()
    (backup_dir / storage_key(seal.last_sequence)).unlink()
    with pytest.raises(CommandError, match="copy is missing from storage"):
        call_command("audit_verify")


def test_verify_outcome_is_recorded_for_the_metric():
    write_rows()
    sealing.seal_all()
    call_command("audit_verify")
    latest = AuditEvent.objects.filter(action="audit.verify").latest("created_at")
    assert latest.detail["ok"] is True
