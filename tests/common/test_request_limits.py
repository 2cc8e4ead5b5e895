"""Security review, weakness 6: an 8 MiB body and a 100,000-deep JSON array answered 500 with a traceback in the
log. They answer 413 and 400 problem+json, and nothing is logged at ERROR. Real requests through the whole
middleware stack (Django's test client), the log captured with caplog."""

import logging

import pytest

from tests.conftest import client_for
from tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

EIGHT_MIB = 8 * 1024 * 1024


def assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


def errors_in(caplog):
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_an_8_mib_body_is_problem_413_without_an_error_line(auth_client, caplog, version):
    body = '{"name": "' + "x" * EIGHT_MIB + '"}'
    caplog.set_level(logging.INFO)

    response = auth_client.generic("POST", f"/api/{version}/projects/", body, content_type="application/json")

    problem = assert_problem(response, 413)
    assert problem["code"] == "request_too_large"
    assert errors_in(caplog) == []


def test_an_8_mib_body_to_the_anonymous_login_is_problem_413(api_client, caplog):
    body = '{"email": "a@example.com", "password": "' + "x" * EIGHT_MIB + '"}'
    caplog.set_level(logging.INFO)

    response = api_client.generic("POST", "/api/v1/auth/login/", body, content_type="application/json")

    assert_problem(response, 413)
    assert errors_in(caplog) == []


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_100000_deep_json_array_is_problem_400_without_an_error_line(auth_client, caplog, version):
    body = "[" * 100_000 + "]" * 100_000
    caplog.set_level(logging.INFO)

    response = auth_client.generic("POST", f"/api/{version}/projects/", body, content_type="application/json")

    problem = assert_problem(response, 400)
    assert "nested" in problem["detail"]
    assert errors_in(caplog) == []


def test_a_deep_array_inside_an_object_is_problem_400(auth_client, caplog):
    body = '{"name": "p", "description": ' + "[" * 100_000 + "]" * 100_000 + "}"
    caplog.set_level(logging.INFO)

    response = auth_client.generic("POST", "/api/v1/projects/", body, content_type="application/json")

    assert_problem(response, 400)
    assert errors_in(caplog) == []


@pytest.mark.parametrize("body", ['{"input": {"k\\u0000": 1}}', '{"input": {"k": ["a\\u0000b"]}}'])
def test_a_nul_character_in_a_json_key_or_string_is_problem_400(project_with_roles, body, caplog):
    # PostgreSQL's jsonb cannot hold U+0000: an execution's input with one answered 500 (found by schemathesis).
    project, users = project_with_roles
    workflow = WorkflowFactory(project=project)
    caplog.set_level(logging.INFO)

    response = client_for(users["editor"]).generic(
        "POST", f"/api/v1/workflows/{workflow.id}/executions/", body, content_type="application/json"
    )

    assert "NUL" in assert_problem(response, 400)["detail"]
    assert errors_in(caplog) == []


def test_an_ordinary_body_still_works(auth_client):
    response = auth_client.post("/api/v1/projects/", {"name": "Fine"}, format="json")
    assert response.status_code == 201


def test_the_parser_reads_at_most_one_byte_past_the_limit(settings):
    """When DRF hands the parser the raw stream (nobody read request.body first: gunicorn), the cap still holds."""
    import io

    from common.parsers import JSONParser, RequestTooLarge

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    stream = io.BytesIO(b'{"a": "' + b"x" * 4096 + b'"}')

    with pytest.raises(RequestTooLarge):
        JSONParser().parse(stream)
    assert stream.tell() == 1025


def test_the_parser_refuses_json_deeper_than_the_limit(settings):
    import io

    from rest_framework.exceptions import ParseError

    from common.parsers import JSONParser

    settings.API_JSON_MAX_DEPTH = 3
    assert JSONParser().parse(io.BytesIO(b'{"a": [[1]]}')) == {"a": [[1]]}
    with pytest.raises(ParseError, match="nested too deeply"):
        JSONParser().parse(io.BytesIO(b'{"a": [[[1]]]}'))
