"""The schema documents the three bearer credentials, and which operations take which."""

import pytest

from tests.common.test_openapi import schema_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("version", ["1", "2"])
def test_schema_documents_api_tokens_and_the_oauth2_flow(tmp_path, version):
    schema = schema_of(tmp_path, version)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiToken"]["scheme"] == "bearer"
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/o/token/"
    assert set(schemes["oauth2"]["flows"]["clientCredentials"]["scopes"]) == {"read", "write"}
    project = schema["paths"][f"/api/v{version}/projects/{{id}}/"]
    assert {"oauth2": ["read"]} in project["get"]["security"]
    assert {"oauth2": ["write"]} in project["patch"]["security"]
    tokens = schema["paths"][f"/api/v{version}/auth/tokens/"]
    # Managing tokens takes a session: no token scheme there, and the 403 a token gets is documented.
    assert tokens["post"]["security"] == [{"jwtAuth": []}]
    assert "403" in tokens["get"]["responses"]
