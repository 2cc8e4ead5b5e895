"""GET, POST …/projects/{id}/secrets/ and PUT, DELETE …/projects/{id}/secrets/{name}/: write-only values."""

import pytest
from django.db import connection

from audit.models import AuditEvent, ModelHistory
from common import encryption
from projects.models import SECRET_VALUE_MAX_BYTES, SECRETS_PER_PROJECT, ProjectSecret
from tests.conftest import client_for
from tests.factories import ProjectSecretFactory

pytestmark = pytest.mark.django_db

VALUE = "sk-live-0123456789abcdef-value"


def secrets_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/secrets/"


def secret_url(project, name: str, version: str = "v1") -> str:
    return f"/api/{version}/projects/{project.pk}/secrets/{name}/"


def create(client, project, name="API_TOKEN", value=VALUE, **extra):
    return client.post(secrets_url(project), {"name": name, "value": value, **extra}, format="json")


def test_editor_creates_a_secret_and_the_response_has_no_value(project_with_roles):
    project, users = project_with_roles
    response = create(client_for(users["editor"]), project, description="the API's token")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "description", "created_by", "created_at", "updated_at", "last_used_at"}
    assert body["name"] == "API_TOKEN"
    assert body["created_by"] == str(users["editor"].pk)
    assert body["last_used_at"] is None
    assert VALUE not in response.content.decode()


def test_the_database_holds_only_ciphertext(project_with_roles):
    project, users = project_with_roles
    create(client_for(users["editor"]), project)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM projects_projectsecret")
        row = cursor.fetchone()
    assert VALUE not in repr(row)
    secret = ProjectSecret.objects.get()
    assert secret.ciphertext.startswith("gAAAA")  # a Fernet token
    assert encryption.decrypt(secret.ciphertext) == VALUE


def test_viewers_list_names_but_never_values(project_with_roles):
    project, users = project_with_roles
    create(client_for(users["editor"]), project)
    response = client_for(users["viewer"]).get(secrets_url(project))
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["results"]] == ["API_TOKEN"]
    assert VALUE not in response.content.decode()
    assert "ciphertext" not in response.content.decode()


def test_v2_lists_secrets_in_its_envelope(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(project=project, name="A_KEY")
    body = client_for(users["viewer"]).get(f"/api/v2/projects/{project.pk}/secrets/").json()
    assert [s["name"] for s in body["data"]] == ["A_KEY"]
    assert "pagination" in body


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("editor", 201), ("admin", 201), ("owner", 201)])
def test_creating_a_secret_needs_editor(project_with_roles, role, expected):
    project, users = project_with_roles
    assert create(client_for(users[role]), project).status_code == expected


def test_a_viewer_can_neither_replace_nor_delete(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(project=project, name="API_TOKEN", value="old-value-123456")
    viewer = client_for(users["viewer"])
    replace = viewer.put(secret_url(project, "API_TOKEN"), {"value": "new-value-654321"}, format="json")
    assert replace.status_code == 403
    assert replace["Content-Type"] == "application/problem+json"
    assert viewer.delete(secret_url(project, "API_TOKEN")).status_code == 403
    assert encryption.decrypt(ProjectSecret.objects.get().ciphertext) == "old-value-123456"


def test_non_member_gets_404_everywhere(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(project=project, name="API_TOKEN")
    outsider = client_for(users["outsider"])
    assert outsider.get(secrets_url(project)).status_code == 404
    assert create(outsider, project).status_code == 404
    assert outsider.put(secret_url(project, "API_TOKEN"), {"value": "x" * 10}, format="json").status_code == 404
    assert outsider.delete(secret_url(project, "API_TOKEN")).status_code == 404


def test_put_replaces_the_value_and_keeps_the_description(project_with_roles):
    project, users = project_with_roles
    editor = client_for(users["editor"])
    create(editor, project, description="kept")
    response = editor.put(secret_url(project, "API_TOKEN", "v2"), {"value": "replaced-value-42"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["description"] == "kept"
    assert "replaced-value-42" not in response.content.decode()
    assert encryption.decrypt(ProjectSecret.objects.get().ciphertext) == "replaced-value-42"


def test_put_of_an_unknown_name_is_404(project_with_roles):
    project, users = project_with_roles
    response = client_for(users["editor"]).put(secret_url(project, "NOPE"), {"value": "abcdefgh"}, format="json")
    assert response.status_code == 404


def test_delete_removes_the_secret(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(project=project, name="API_TOKEN")
    assert client_for(users["editor"]).delete(secret_url(project, "API_TOKEN")).status_code == 204
    assert not ProjectSecret.objects.exists()


@pytest.mark.parametrize("name", ["api_token", "1TOKEN", "_TOKEN", "TOK-EN", "A" * 65, ""])
def test_invalid_names_are_400(project_with_roles, name):
    project, users = project_with_roles
    response = create(client_for(users["editor"]), project, name=name)
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_a_taken_name_is_409(project_with_roles):
    project, users = project_with_roles
    editor = client_for(users["editor"])
    create(editor, project)
    response = create(editor, project, value="another-value-1")
    assert response.status_code == 409
    assert response.json()["code"] == "secret_exists"
    assert "another-value-1" not in response.content.decode()


def test_the_same_name_in_another_project_is_fine(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(name="API_TOKEN")
    assert create(client_for(users["editor"]), project).status_code == 201


def test_a_value_over_64_kib_is_400_naming_its_size_not_its_text(project_with_roles):
    project, users = project_with_roles
    value = "v" * (SECRET_VALUE_MAX_BYTES + 1)
    response = create(client_for(users["editor"]), project, value=value)
    assert response.status_code == 400
    assert "65537 bytes" in response.json()["errors"]["value"][0]
    assert "vvvvvvvv" not in response.content.decode()


def test_a_value_of_exactly_64_kib_is_accepted(project_with_roles):
    project, users = project_with_roles
    assert create(client_for(users["editor"]), project, value="é" * (SECRET_VALUE_MAX_BYTES // 2)).status_code == 201


def test_an_empty_value_is_400(project_with_roles):
    project, users = project_with_roles
    assert create(client_for(users["editor"]), project, value="").status_code == 400


def test_the_101st_secret_is_400(project_with_roles):
    project, users = project_with_roles
    for index in range(SECRETS_PER_PROJECT):
        ProjectSecretFactory(project=project, name=f"S_{index}", ciphertext="x")
    response = create(client_for(users["editor"]), project)
    assert response.status_code == 400
    assert f"at most {SECRETS_PER_PROJECT} secrets" in response.json()["errors"]["name"][0]


def test_whitespace_in_a_value_is_kept(project_with_roles):
    project, users = project_with_roles
    create(client_for(users["editor"]), project, value="  padded value\n")
    assert encryption.decrypt(ProjectSecret.objects.get().ciphertext) == "  padded value\n"


def test_create_replace_delete_are_audit_events_with_name_and_actor_never_the_value(project_with_roles):
    project, users = project_with_roles
    editor = client_for(users["editor"])
    create(editor, project)
    editor.put(secret_url(project, "API_TOKEN"), {"value": "second-value-987"}, format="json")
    editor.delete(secret_url(project, "API_TOKEN"))

    events = AuditEvent.objects.filter(category="secret").order_by("created_at")
    assert [(e.action, e.detail["name"], e.actor_id) for e in events] == [
        (action, "API_TOKEN", users["editor"].pk) for action in ("secret.created", "secret.replaced", "secret.deleted")
    ]
    assert all(e.project_id == project.pk for e in events)
    stored = repr(list(AuditEvent.objects.values())) + repr(list(ModelHistory.objects.values()))
    assert VALUE not in stored and "second-value-987" not in stored
    assert ModelHistory.objects.filter(content_type__model="projectsecret").count() == 2  # create, delete
