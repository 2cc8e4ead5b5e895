import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/login/" in schema["paths"]
    assert "/api/v1/projects/{id}/members/{member_id}/" in schema["paths"] or any(
        path.startswith("/api/v1/projects/{project_pk}/members/") for path in schema["paths"]
    )


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_are_served(client, path):
    assert client.get(path).status_code == 200
