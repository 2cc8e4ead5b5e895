"""The audit admin: read-only for everyone, superusers included; the Auditors group sees audit and nothing else;
filtered pages and the streamed export."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from audit import recording
from audit.models import AuditEvent, Category
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def event():
    return recording.record(Category.OPERATION, "test.admin", status_code=200)


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture
def auditor_client():
    auditor = UserFactory(is_staff=True)
    auditor.groups.add(Group.objects.get(name="Auditors"))
    return logged_in(auditor)


@pytest.mark.parametrize("model", ["auditevent", "modelhistory", "auditseal"])
def test_a_superuser_can_add_change_or_delete_nothing(superuser_client, event, model):
    assert superuser_client.get(reverse(f"admin:audit_{model}_add")).status_code == 403
    if model == "auditevent":
        change = reverse("admin:audit_auditevent_change", args=[event.pk])
        assert superuser_client.get(change).status_code == 200  # read-only view
        assert superuser_client.post(change, {"action": "forged"}).status_code == 403
        assert superuser_client.post(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "test.admin"


def test_auditors_see_the_audit_models_and_nothing_else(auditor_client, event):
    assert auditor_client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    assert auditor_client.get(reverse("admin:audit_modelhistory_changelist")).status_code == 200
    for other in (
        "admin:accounts_user_changelist",
        "admin:projects_project_changelist",
        "admin:ops_backuprecord_changelist",
    ):
        assert auditor_client.get(reverse(other)).status_code == 403


@pytest.mark.parametrize(
    "query",
    [{}, {"category__exact": "operation"}, {"action": "test.admin"}, {"status": "200"}, {"q": "nothing"}],
)
def test_changelist_pages_and_filters_render(superuser_client, event, query):
    response = superuser_client.get(reverse("admin:audit_auditevent_changelist"), query)
    assert response.status_code == 200


def test_export_streams_the_filtered_set(superuser_client, event):
    recording.record(Category.OPERATION, "test.other")
    response = superuser_client.get(reverse("admin:audit_auditevent_export", args=["jsonl"]) + "?action=test.admin")
    body = b"".join(response.streaming_content).decode()
    assert '"action":"test.admin"' in body and "test.other" not in body


def test_search_finds_the_exact_resource_id_with_an_indexed_lookup(superuser_client):
    """The search is `resource_id = 'x'` (the index serves it), not Django's `UPPER(resource_id) = UPPER('x')`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    recording.record(Category.OPERATION, "test.searched", resource_id="Abc-123")
    recording.record(Category.OPERATION, "test.other", resource_id="abc-1234")
    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(reverse("admin:audit_auditevent_changelist"), {"q": "Abc-123"})
    listed = [event.action for event in response.context["cl"].result_list]
    assert listed == ["test.searched"]
    assert not any("UPPER(" in query["sql"] for query in captured.captured_queries)
