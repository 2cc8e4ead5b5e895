"""GET /api/v{1,2}/audit/events/: who sees which events, filters, cursors, and the streamed exports."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group

from audit import recording
from audit.context import Actor
from audit.models import Category
from projects.models import Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/audit/events/"


@pytest.fixture
def trail():
    """Events of a project (by its viewer and admin), of the viewer alone, and of a stranger."""
    project = ProjectFactory()
    admin = MembershipFactory(project=project, role=Role.ADMIN).user
    viewer = MembershipFactory(project=project, role=Role.VIEWER).user
    stranger = UserFactory()
    recording.record(Category.OPERATION, "test.project", project_id=project.pk, actor=Actor.user(viewer.pk))
    recording.record(Category.OPERATION, "test.own", actor=Actor.user(viewer.pk))
    recording.record(Category.OPERATION, "test.stranger", actor=Actor.user(stranger.pk))
    return {"project": project, "admin": admin, "viewer": viewer, "stranger": stranger}


def actions(response) -> set[str]:
    body = response.json()
    items = body["results"] if "results" in body else body["data"]
    return {item["action"] for item in items if item["action"].startswith("test.")}


def test_a_member_sees_only_their_own_events(trail):
    assert actions(client_for(trail["viewer"]).get(EVENTS)) == {"test.project", "test.own"}


def test_a_project_admin_sees_the_events_of_their_projects(trail):
    assert actions(client_for(trail["admin"]).get(EVENTS)) == {"test.project"}


def test_staff_with_the_audit_permission_see_everything(trail):
    auditor = UserFactory(is_staff=True)
    auditor.groups.add(Group.objects.get(name="Auditors"))
    assert actions(client_for(auditor).get(EVENTS)) == {"test.project", "test.own", "test.stranger"}


def test_an_item_has_the_documented_shape(trail):
    (item,) = [i for i in client_for(trail["stranger"]).get(EVENTS).json()["results"] if i["action"] == "test.stranger"]
    assert set(item) == {
        "id", "sequence", "timestamp", "actor", "category", "action", "resource_type", "resource_id", "project",
        "status_code", "request_id", "trace_id", "ip", "user_agent", "changes",
    }  # fmt: skip
    assert item["actor"] == {"id": str(trail["stranger"].pk), "kind": "user"}


def test_filters(trail):
    client = client_for(trail["viewer"])
    assert actions(client.get(EVENTS, {"project": str(trail["project"].pk)})) == {"test.project"}
    assert actions(client.get(EVENTS, {"action": "test.own"})) == {"test.own"}
    assert actions(client.get(EVENTS, {"created_after": "2999-01-01T00:00:00Z"})) == set()


def test_v1_and_v2_page_with_cursors(trail):
    client = client_for(trail["viewer"])
    v1 = client.get(EVENTS, {"page_size": 1}).json()
    assert set(v1) == {"next", "previous", "results"} and "cursor=" in v1["next"]
    v2 = client.get("/api/v2/audit/events/", {"page_size": 1}).json()
    assert v2["pagination"]["has_more"] is True and v2["meta"]["api_version"] == "2"


def test_csv_and_jsonl_exports_stream_the_filtered_events(trail):
    client = client_for(trail["viewer"])
    response = client.get(EVENTS, {"format": "csv", "action": "test.own"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["test.own"]
    response = client.get(EVENTS, {"format": "jsonl"})
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert {line["action"] for line in lines} >= {"test.project", "test.own"}
    assert "test.stranger" not in {line["action"] for line in lines}


def test_anonymous_callers_get_401(api_client):
    assert api_client.get(EVENTS).status_code == 401


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_anonymous_download_is_a_401_problem_not_a_500(api_client, fmt):
    # Found by schemathesis (tests/common/test_api_fuzz.py): the download renderers could not render the error.
    response = api_client.get(f"/api/v1/audit/events/?format={fmt}")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")


def test_a_download_with_a_bad_filter_is_a_400_problem(trail):
    response = client_for(trail["viewer"]).get("/api/v1/audit/events/?format=csv&created_after=yesterday")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")


def test_options_with_a_download_format_answers_json(trail):
    response = client_for(trail["viewer"]).options("/api/v1/audit/events/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
