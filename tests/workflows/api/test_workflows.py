import pytest

from tests.conftest import client_for
from tests.factories import ProjectFactory, WorkflowFactory, transform_definition
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


def workflows_url(project_id) -> str:
    return f"/api/v1/projects/{project_id}/workflows/"


def workflow_url(workflow_id) -> str:
    return f"/api/v1/workflows/{workflow_id}/"


def create(client, project, definition=None, **extra):
    body = {"name": "Greeter", "definition": transform_definition() if definition is None else definition, **extra}
    return client.post(workflows_url(project.id), body, format="json")


def test_editor_creates_workflow_as_version_1(project_with_roles):
    project, users = project_with_roles
    response = create(client_for(users["editor"]), project, description="Says hello")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["project"] == str(project.id)
    assert body["created_by"] == str(users["editor"].id)
    assert body["definition"] == transform_definition()
    assert WorkflowVersion.objects.filter(workflow_id=body["id"], version=1).count() == 1


def test_viewer_cannot_create_workflow(project_with_roles):
    project, users = project_with_roles
    response = create(client_for(users["viewer"]), project)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert not Workflow.objects.exists()


def test_non_member_gets_404_creating_in_a_project(project_with_roles):
    project, users = project_with_roles
    assert create(client_for(users["outsider"]), project).status_code == 404


@pytest.mark.parametrize(
    ("definition", "path", "fragment"),
    [
        ({"steps": [{"id": "a", "type": "nope", "config": {}}]}, "definition.steps[0].type", "nope"),
        (
            {"steps": [{"id": "a", "type": "transform", "config": {"value": 1}}] * 2},
            "definition.steps[1].id",
            "duplicate",
        ),
        ({"steps": [{"type": "transform", "config": {"value": 1}}]}, "definition.steps[0].id", "required"),
        (
            {"steps": [{"id": "a", "type": "transform", "depends_on": ["ghost"], "config": {"value": 1}}]},
            "definition.steps[0].depends_on[0]",
            "ghost",
        ),
        ({"steps": [{"id": "a", "type": "transform", "config": {"value": "{{ input.x "}}]}, "definition.steps", ""),
        ({"steps": [{"id": "a", "type": "transform", "config": {}}]}, "definition.steps[0].config.value", "required"),
        ({"nope": []}, "definition.nope", "unknown"),
        ([], "definition", "object"),
    ],
)
def test_invalid_definition_is_400_with_json_paths(project_with_roles, definition, path, fragment):
    project, users = project_with_roles
    response = create(client_for(users["editor"]), project, definition=definition)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    matching = [key for key in errors if key.startswith(path)]
    assert matching, errors
    assert fragment in " ".join(errors[matching[0]])


def test_dependency_cycle_is_400_naming_the_cycle(project_with_roles):
    project, users = project_with_roles
    definition = {
        "steps": [
            {"id": "a", "type": "transform", "depends_on": ["b"], "config": {"value": 1}},
            {"id": "b", "type": "transform", "depends_on": ["a"], "config": {"value": 2}},
        ]
    }
    response = create(client_for(users["editor"]), project, definition=definition)
    assert response.status_code == 400
    errors = response.json()["errors"]
    cycle_messages = [m for key, messages in errors.items() if key.endswith("depends_on") for m in messages]
    assert any("cycle" in message for message in cycle_messages), errors


def test_template_syntax_error_is_400_at_its_path(project_with_roles):
    project, users = project_with_roles
    definition = transform_definition()
    definition["output"] = {"broken": "{{ steps.greet.output.message "}
    response = create(client_for(users["editor"]), project, definition=definition)
    assert response.status_code == 400
    assert "definition.output.broken" in response.json()["errors"]


@pytest.mark.parametrize(
    "template",
    [
        "{{ (''|center(200000000))|length }}",
        "{{ (['a'*1000000]*200)|join }}",
        "{{ ((10**1000)**1000)**12 > 1 }}",
        "{{ ''|center(10**10) }}",
    ],
)
def test_template_whose_constant_part_breaks_a_limit_is_400_at_save(project_with_roles, template):
    project, users = project_with_roles
    definition = transform_definition()
    definition["output"] = {"bomb": template}
    response = create(client_for(users["editor"]), project, definition=definition)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    [message] = response.json()["errors"]["definition.output.bomb"]
    assert message.startswith("refused by the template sandbox: ")
    assert "over the limit of" in message
    assert not Workflow.objects.filter(project=project).exists()


def test_members_list_only_their_projects_workflows(project_with_roles):
    project, users = project_with_roles
    mine = WorkflowFactory(project=project)
    WorkflowFactory(project=ProjectFactory())
    response = client_for(users["viewer"]).get(workflows_url(project.id))
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(mine.id)]


def test_non_member_gets_404_for_workflow_list(project_with_roles):
    project, users = project_with_roles
    assert client_for(users["outsider"]).get(workflows_url(project.id)).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "x"}),
        ("delete", "", None),
        ("get", "versions/", None),
        ("get", "executions/", None),
        ("post", "executions/", {"input": {}}),
    ],
)
def test_non_member_gets_404_for_workflow_routes(workflow_with_roles, method, suffix, body):
    workflow, users = workflow_with_roles
    response = getattr(client_for(users["outsider"]), method)(workflow_url(workflow.id) + suffix, body, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "body"), [("patch", {"name": "renamed"}), ("delete", None)])
def test_viewer_cannot_change_or_delete_workflow(workflow_with_roles, method, body):
    workflow, users = workflow_with_roles
    response = getattr(client_for(users["viewer"]), method)(workflow_url(workflow.id), body, format="json")
    assert response.status_code == 403
    assert Workflow.objects.filter(pk=workflow.pk, name=workflow.name).exists()


def test_viewer_reads_workflow(workflow_with_roles):
    workflow, users = workflow_with_roles
    response = client_for(users["viewer"]).get(workflow_url(workflow.id))
    assert response.status_code == 200
    assert response.json()["name"] == workflow.name


def test_patch_definition_creates_version_2(workflow_with_roles):
    workflow, users = workflow_with_roles
    definition = transform_definition()
    definition["output"] = {"only": "{{ steps.count.output }}"}
    response = client_for(users["editor"]).patch(workflow_url(workflow.id), {"definition": definition}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 2
    versions = client_for(users["viewer"]).get(workflow_url(workflow.id) + "versions/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["definition"] == definition
    assert versions[1]["definition"] == transform_definition()


def test_patch_without_definition_change_keeps_version(workflow_with_roles):
    workflow, users = workflow_with_roles
    body = {"name": "Renamed", "definition": transform_definition()}
    response = client_for(users["editor"]).patch(workflow_url(workflow.id), body, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["version"]) == ("Renamed", 1)
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1


def test_patch_invalid_definition_is_400_and_keeps_version(workflow_with_roles):
    workflow, users = workflow_with_roles
    body = {"definition": {"steps": [{"id": "a", "type": "nope", "config": {}}]}}
    response = client_for(users["editor"]).patch(workflow_url(workflow.id), body, format="json")
    assert response.status_code == 400
    assert "definition.steps[0].type" in response.json()["errors"]
    workflow.refresh_from_db()
    assert workflow.version == 1


def test_editor_deletes_workflow(workflow_with_roles):
    workflow, users = workflow_with_roles
    assert client_for(users["editor"]).delete(workflow_url(workflow.id)).status_code == 204
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


def test_unknown_workflow_is_404(auth_client):
    assert auth_client.get(workflow_url("00000000-0000-0000-0000-000000000000")).status_code == 404


def test_is_active_takes_a_json_boolean_only(project_with_roles):
    # DRF's BooleanField took 0 and "yes"; the schema says boolean (found by schemathesis).
    project, users = project_with_roles
    workflow = WorkflowFactory(project=project)
    response = client_for(users["editor"]).patch(workflow_url(workflow.id), {"is_active": 0}, format="json")
    assert response.status_code == 400
    assert "is_active" in response.json()["errors"]
