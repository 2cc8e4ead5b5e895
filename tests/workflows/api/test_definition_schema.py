import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator

from tests.conftest import client_for
from tests.factories import transform_definition
from workflows.definition_schema import DEFINITION_SCHEMA

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v1/workflows/definition-schema/"


def api_path(location) -> str:
    """A JSON Schema error's location as the API's error key: ``definition.steps[0].retry``."""
    return "definition" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)


def create(client, project, definition):
    return client.post(
        f"/api/v1/projects/{project.id}/workflows/", {"name": "G", "definition": definition}, format="json"
    )


def test_signed_in_user_gets_the_definition_schema(auth_client):
    response = auth_client.get(SCHEMA_URL)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(DEFINITION_SCHEMA))


def test_anonymous_caller_gets_401_for_the_definition_schema(api_client):
    assert api_client.get(SCHEMA_URL).status_code == 401


def test_definition_the_schema_accepts_is_accepted_by_the_api(project_with_roles):
    project, users = project_with_roles
    client = client_for(users["editor"])
    definition = transform_definition()
    assert list(Draft202012Validator(client.get(SCHEMA_URL).json()).iter_errors(definition)) == []
    response = create(client, project, definition)
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "step",
    [
        {"id": "a", "type": "transform", "config": {"value": 1}, "retry": {"max_attempts": 11, "backoff_seconds": 1}},
        {"id": "a", "type": "transform", "config": {"value": 1}, "timeout_seconds": 0},
        {"id": "has space", "type": "transform", "config": {"value": 1}},
        {"id": "a", "type": "shell", "config": {"value": 1}},
        {"id": "a", "type": "transform", "config": [], "depends_on": "b"},
    ],
)
def test_definition_the_schema_rejects_is_refused_by_the_api_at_the_same_path(project_with_roles, step):
    project, users = project_with_roles
    client = client_for(users["editor"])
    definition = {"steps": [step]}
    schema_errors = Draft202012Validator(client.get(SCHEMA_URL).json()).iter_errors(definition)
    paths = {api_path(error.absolute_path) for error in schema_errors}
    assert paths
    response = create(client, project, definition)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == paths


@pytest.fixture(scope="module")
def openapi():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    "component", ["WorkflowInputRequest", "PatchedWorkflowUpdateRequest", "WorkflowOutput", "WorkflowVersionOutput"]
)
def test_openapi_documents_the_definition_field_with_the_schema(openapi, component):
    definition = openapi["components"]["schemas"][component]["properties"]["definition"]
    assert (definition["type"], definition["properties"]) == ("object", DEFINITION_SCHEMA["properties"])


def test_openapi_lists_the_definition_schema_endpoint_under_workflows(openapi):
    operation = openapi["paths"][SCHEMA_URL]["get"]
    assert operation["tags"] == ["workflows"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "object"
