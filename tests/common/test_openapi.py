"""One OpenAPI schema per version: no warnings, v2's envelope, and every error response as problem+json; the docs
pages load only the app's own files."""

import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def schema_of(tmp_path, version: str) -> dict:
    out = tmp_path / f"schema-{version}.yaml"
    call_command("spectacular", "--api-version", version, "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(out.read_text())


@pytest.mark.parametrize("version", ["1", "2"])
def test_schema_generates_without_warnings(tmp_path, version):
    schema = schema_of(tmp_path, version)
    assert schema["openapi"].startswith("3.")
    assert f"/api/v{version}/auth/login/" in schema["paths"]
    assert any(path.startswith(f"/api/v{version}/projects/{{project_pk}}/members/") for path in schema["paths"])
    assert not [path for path in schema["paths"] if not path.startswith(f"/api/v{version}/")]


def test_both_versions_have_the_same_operations(tmp_path):
    v1, v2 = schema_of(tmp_path, "1"), schema_of(tmp_path, "2")

    def operations(schema, prefix):
        return {(path.removeprefix(prefix), method) for path, item in schema["paths"].items() for method in item}

    assert operations(v1, "/api/v1") == operations(v2, "/api/v2")


def test_v2_documents_the_envelope_and_cursor_pagination(tmp_path):
    schema = schema_of(tmp_path, "2")
    detail = schema["paths"]["/api/v2/projects/{id}/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert set(detail["schema"]["properties"]) == {"data", "meta"}
    listing = schema["components"]["schemas"]["PaginatedProjectOutputList"]
    assert set(listing["properties"]) == {"data", "pagination", "meta"}
    parameters = {p["name"] for p in schema["paths"]["/api/v2/projects/"]["get"]["parameters"]}
    assert {"cursor", "page_size", "include"} <= parameters


@pytest.mark.parametrize("version", ["1", "2"])
def test_every_operation_documents_its_errors_as_problem_json(tmp_path, version):
    schema = schema_of(tmp_path, version)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
            assert "503" in errors, (method, path)
            for code, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (method, path, code)
    create = schema["paths"][f"/api/v{version}/workflows/{{workflow_pk}}/executions/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "415", "422", "429"} <= set(create)
    login = schema["paths"][f"/api/v{version}/auth/login/"]["post"]["responses"]
    assert "401" in login and "403" not in login


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("page", ["schema", "docs", "redoc"])
def test_docs_are_served(client, version, page):
    assert client.get(f"/api/v{version}/{page}/").status_code == 200


DOCS_PAGES = ["/api/v1/docs/", "/api/v2/docs/", "/api/docs/", "/api/v1/redoc/", "/api/v2/redoc/", "/api/redoc/"]


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_pages_reference_no_other_host(client, path):
    html = client.get(path).content.decode()
    # absolute (http:, https:) or protocol-relative (//host) addresses; the pages' own are paths (/static/...)
    assert re.findall(r"(?:https?:)?//[^\s\"'<>]+", html) == []


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_pages_assets_are_the_apps_static_files(client, path):
    # (data: URLs are inline: ReDoc's page has an empty favicon so that browsers do not ask for /favicon.ico)
    assets = re.findall(r'(?:src|href)="(?!data:)([^"]+)"', client.get(path).content.decode())
    assert assets
    assert [asset for asset in assets if not asset.startswith("/static/drf_spectacular_sidecar/")] == []
    assert {asset: client.get(asset).status_code for asset in assets} == dict.fromkeys(assets, 200)
