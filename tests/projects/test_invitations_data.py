"""Invitations as personal data: retention deletes ended ones, the export and the erasure cover them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.gdpr import erasure, export
from accounts.models import User
from audit import retention
from projects import gdpr
from projects.models import Invitation, InvitationStatus
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def invitation(email="new@example.com", *, status=InvitationStatus.PENDING, expires_in_days=7, **fields):
    return Invitation.objects.create(
        project=fields.pop("project", None) or ProjectFactory(),
        email=email,
        status=status,
        expires_at=timezone.now() + timedelta(days=expires_in_days),
        **fields,
    )


def updated_days_ago(row, days: int) -> None:
    Invitation.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(days=days))


def test_retention_deletes_invitations_ended_longer_ago_than_30_days():
    expired_long_ago = invitation(expires_in_days=-31)
    accepted_long_ago = invitation(status=InvitationStatus.ACCEPTED)
    updated_days_ago(accepted_long_ago, 31)
    revoked_lately = invitation(status=InvitationStatus.REVOKED)
    updated_days_ago(revoked_lately, 29)
    expired_lately = invitation(expires_in_days=-29)
    pending = invitation()
    counts = retention.run()
    assert counts["invitations"] == 2
    kept = set(Invitation.objects.values_list("pk", flat=True))
    assert kept == {revoked_lately.pk, expired_lately.pk, pending.pk}
    assert expired_long_ago.pk not in kept and accepted_long_ago.pk not in kept


def test_the_export_of_a_verified_person_holds_the_invitations_to_their_address():
    person = UserFactory(email="new@example.com", email_verified_at=timezone.now())
    mine = invitation("NEW@example.com")
    document = export.document_for(person)
    assert [row["id"] for row in document["invitations"]["received"]] == [str(mine.pk)]


def test_the_export_of_an_unverified_account_holds_no_invitation_to_its_address():
    """The account may be a squat on someone else's address: it learns nothing of their invitations."""
    squatter = UserFactory(email="new@example.com")
    invitation("new@example.com")
    assert gdpr.invitations_export(squatter)["received"] == []


def test_the_invitations_a_person_sent_are_exported_without_the_invitees_address():
    person = UserFactory()
    invitation("someone@example.com", invited_by=person)
    sent = gdpr.invitations_export(person)["sent"]
    assert len(sent) == 1
    assert "someone@example.com" not in str(sent)


def test_an_erasure_deletes_the_invitations_to_the_verified_address():
    person = UserFactory(email="new@example.com", email_verified_at=timezone.now())
    invitation("new@example.com")
    other = invitation("other@example.com")
    counts = erasure.user_erase(user=User.objects.get(pk=person.pk), via=erasure.Via.COMMAND, record_in_ledger=False)
    assert counts["invitations_deleted"] == 1
    assert list(Invitation.objects.values_list("pk", flat=True)) == [other.pk]
