"""What is recorded, by whom, from where: request events, auth events, denials and model history."""

import re

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from audit.models import AuditEvent, Category, ModelHistory
from projects.models import Role
from tests.conftest import client_for
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def request_event(**filters) -> AuditEvent:
    return AuditEvent.objects.get(category=Category.REQUEST, **filters)


def test_a_jwt_request_records_the_user_the_ip_the_route_and_the_changes():
    membership = MembershipFactory(role=Role.OWNER)
    client = client_for(membership.user)
    response = client.patch(
        f"/api/v1/projects/{membership.project.pk}/",
        {"name": "Renamed"},
        format="json",
        HTTP_USER_AGENT="tests/1.0",
        HTTP_X_REQUEST_ID="req-audit-1",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    event = request_event(request_id="req-audit-1")
    assert (event.action, event.status_code) == ("PATCH /api/v1/projects/{id}/", 200)
    assert (event.actor_kind, event.actor_id) == ("user", membership.user.pk)
    assert (event.ip, event.user_agent) == ("203.0.113.9", "tests/1.0")
    assert (event.resource_type, event.resource_id, event.project_id) == (
        "project",
        str(membership.project.pk),
        membership.project.pk,
    )
    assert event.changes["name"][1] == "Renamed"
    history = ModelHistory.objects.get(cid="req-audit-1")
    assert (history.actor_id, history.remote_addr) == (membership.user.pk, "203.0.113.9")


def test_a_refused_write_is_recorded_with_its_status_and_as_a_denial():
    project = ProjectFactory()
    viewer = MembershipFactory(project=project, role=Role.VIEWER).user
    response = client_for(viewer).delete(f"/api/v1/projects/{project.pk}/", HTTP_X_REQUEST_ID="req-403")
    assert response.status_code == 403
    assert request_event(request_id="req-403").status_code == 403
    denial = AuditEvent.objects.get(category=Category.PERMISSION, request_id="req-403")
    assert (denial.action, denial.actor_id) == ("permission.denied", viewer.pk)


def test_a_404_hiding_a_project_from_a_non_member_is_a_denial_even_on_get():
    project, outsider = ProjectFactory(), UserFactory()
    response = client_for(outsider).get(f"/api/v1/projects/{project.pk}/", HTTP_X_REQUEST_ID="req-hidden")
    assert response.status_code == 404
    denial = AuditEvent.objects.get(request_id="req-hidden")
    assert (denial.category, denial.action, denial.resource_id) == (
        Category.PERMISSION,
        "permission.hidden",
        str(project.pk),
    )


def test_a_404_for_an_id_that_does_not_exist_is_not_a_denial():
    client_for(UserFactory()).get(
        "/api/v1/projects/00000000-0000-0000-0000-000000000000/", HTTP_X_REQUEST_ID="req-missing"
    )
    assert not AuditEvent.objects.filter(request_id="req-missing").exists()


def test_login_failure_keeps_a_keyed_hash_of_the_email_not_the_email(api_client):
    api_client.post("/api/v1/auth/login/", {"email": "nobody@example.com", "password": "x"}, format="json")
    failure = AuditEvent.objects.get(action="auth.login.failed")
    assert failure.actor_kind == "anonymous"
    assert len(failure.detail["email_hash"]) == 64
    assert "nobody@example.com" not in str(list(AuditEvent.objects.values()))


def test_login_success_and_password_change_are_auth_events(api_client):
    user = UserFactory()
    api_client.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    client_for(user).post(
        "/api/v1/auth/password/", {"old_password": PASSWORD, "new_password": "another-long-pass-123"}, format="json"
    )
    actions = set(AuditEvent.objects.filter(category=Category.AUTH, actor_id=user.pk).values_list("action", flat=True))
    assert {"auth.login.succeeded", "auth.password.changed"} <= actions


def test_history_commits_or_rolls_back_with_its_change():
    with pytest.raises(RuntimeError), transaction.atomic():
        ProjectFactory(name="Never")
        raise RuntimeError
    assert not ModelHistory.objects.filter(object_repr="Never").exists()
    ProjectFactory(name="Kept")
    assert ModelHistory.objects.filter(object_repr="Kept").count() == 1


def test_a_service_update_diffs_against_the_loaded_state_without_reading_the_row_again():
    """common.services.model_update keeps the state it loaded: the history entry needs no SELECT of the old row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from common.services import model_update

    project = ProjectFactory(name="Before", description="same")
    with CaptureQueriesContext(connection) as queries:
        model_update(instance=project, fields=("name", "description"), data={"name": "After", "description": "same"})
    reads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "projects_project"."id"')]
    assert reads == []
    entry = ModelHistory.objects.filter(object_pk=str(project.pk)).order_by("-timestamp").first()
    assert entry.changes == {"name": ["Before", "After"]}
    # A save that did not go through model_update still reads the old row, as django-auditlog does.
    project.name = "Again"
    project.save(update_fields=["name"])
    entry = ModelHistory.objects.filter(object_pk=str(project.pk)).order_by("-timestamp").first()
    assert entry.changes == {"name": ["After", "Again"]}


def test_history_never_holds_a_person_s_email():
    membership = MembershipFactory()
    user = membership.user
    user.email = "changed@example.com"
    user.save()
    texts = str(list(ModelHistory.objects.values("object_repr", "changes", "actor_email")))
    assert user.email not in texts and "changed@example.com" not in texts
    assert ModelHistory.objects.filter(object_repr=f"user {user.pk}").exists()


def test_execution_history_keeps_status_transitions_only():
    workflow = WorkflowFactory()
    execution = workflow.executions.create(workflow_version=workflow.versions.get(), input={"secret": "input"})
    execution.status = "running"
    execution.save()
    changes = ModelHistory.objects.filter(object_pk=str(execution.pk)).values_list("changes", flat=True)
    assert all(set(change) <= {"status", "cancel_requested"} for change in changes)


def _routes(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def mutating_api_routes() -> list[tuple[str, str]]:
    """(method, route) of every state-changing operation of /api/v1/, read from the URLconf."""
    v1 = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "v1")
    found = []
    for route, pattern in _routes(v1, "api/v1/"):
        view = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None)
        methods = set(actions) if actions else {m for m in ("post", "put", "patch", "delete") if hasattr(view, m)}
        found += [(method.upper(), route) for method in sorted(methods & {"post", "put", "patch", "delete"})]
    return found


@pytest.mark.parametrize(("method", "route"), mutating_api_routes())
def test_every_mutating_endpoint_writes_an_event(method, route):
    """Even a refused call of each (an anonymous one, with made-up ids) is recorded: none escapes."""
    path = "/" + re.sub(r"<(?:\w+:)?\w+>", "00000000-0000-0000-0000-000000000002", route)
    response = getattr(APIClient(), method.lower())(path, {}, format="json", HTTP_X_REQUEST_ID=f"req-{method}")
    event = AuditEvent.objects.get(category=Category.REQUEST, request_id=f"req-{method}")
    assert event.status_code == response.status_code
    assert event.action.startswith(f"{method} /api/v1/")
