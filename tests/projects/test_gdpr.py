"""The projects part of an erasure: who inherits a project, and which projects go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent, ModelHistory
from projects import gdpr
from projects.models import Membership, Project, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def joined(project, role: str, *, days_ago: int, active: bool = True) -> Membership:
    """A member who joined `days_ago` days ago."""
    membership = MembershipFactory(project=project, role=role, user=UserFactory(is_active=active))
    Membership.objects.filter(pk=membership.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return membership


@pytest.fixture
def person():
    return UserFactory()


@pytest.fixture
def owned(person):
    project = ProjectFactory(created_by=person)
    MembershipFactory(project=project, user=person, role=Role.OWNER)
    return project


def role_of(membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def test_a_project_the_person_is_alone_in_is_deleted_with_its_workflows(person, owned):
    WorkflowFactory(project=owned)

    counts = gdpr.projects_erase(person)

    assert counts["projects_deleted"] == 1
    assert not Project.objects.filter(pk=owned.pk).exists()


def test_the_longest_standing_admin_becomes_owner(person, owned):
    joined(owned, Role.EDITOR, days_ago=30)
    newer_admin = joined(owned, Role.ADMIN, days_ago=5)
    older_admin = joined(owned, Role.ADMIN, days_ago=10)

    counts = gdpr.projects_erase(person)

    assert counts == {"projects_deleted": 0, "projects_transferred": 1, "projects_left": 1}
    assert role_of(older_admin) == Role.OWNER and role_of(newer_admin) == Role.ADMIN
    assert not Membership.objects.filter(project=owned, user=person).exists()


def test_without_an_admin_the_longest_standing_editor_becomes_owner(person, owned):
    joined(owned, Role.VIEWER, days_ago=30)
    editor = joined(owned, Role.EDITOR, days_ago=3)

    gdpr.projects_erase(person)

    assert role_of(editor) == Role.OWNER


def test_without_an_editor_a_viewer_becomes_owner(person, owned):
    viewer = joined(owned, Role.VIEWER, days_ago=3)

    gdpr.projects_erase(person)

    assert role_of(viewer) == Role.OWNER


def test_an_active_member_is_preferred_to_an_inactive_one(person, owned):
    joined(owned, Role.ADMIN, days_ago=30, active=False)
    active = joined(owned, Role.VIEWER, days_ago=3)

    gdpr.projects_erase(person)

    assert role_of(active) == Role.OWNER


def test_no_handover_when_another_owner_remains(person, owned):
    other_owner = joined(owned, Role.OWNER, days_ago=3)
    admin = joined(owned, Role.ADMIN, days_ago=30)

    counts = gdpr.projects_erase(person)

    assert counts["projects_transferred"] == 0
    assert (role_of(other_owner), role_of(admin)) == (Role.OWNER, Role.ADMIN)


def test_a_member_who_is_not_owner_just_leaves(person):
    project = ProjectFactory()
    owner = joined(project, Role.OWNER, days_ago=30)
    MembershipFactory(project=project, user=person, role=Role.EDITOR)

    counts = gdpr.projects_erase(person)

    assert counts == {"projects_deleted": 0, "projects_transferred": 0, "projects_left": 1}
    assert role_of(owner) == Role.OWNER


def test_the_handover_is_audited_with_the_project_and_in_the_history(person, owned):
    admin = joined(owned, Role.ADMIN, days_ago=3)

    gdpr.projects_erase(person)

    event = AuditEvent.objects.get(action=gdpr.OWNERSHIP_TRANSFERRED)
    assert event.project_id == owned.pk and event.resource_id == str(owned.pk)
    assert event.detail == {"from_user_id": str(person.pk), "to_user_id": str(admin.user_id)}
    history = ModelHistory.objects.filter(object_pk=str(admin.pk)).order_by("-timestamp").first()
    assert history.changes["role"] == ["admin", "owner"]
