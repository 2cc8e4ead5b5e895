"""Every error under /api/ is RFC 9457 problem+json: no HTML pages, no stack traces."""

import pytest

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    return body


def test_unknown_api_path_is_problem_404(auth_client):
    assert_problem(auth_client.get("/api/v1/nothing-here/"), 404)


def test_unknown_api_version_is_problem_404(api_client):
    assert_problem(api_client.get("/api/v9/projects/"), 404)


def test_method_not_allowed_is_problem_405(api_client):
    body = assert_problem(api_client.get("/api/v1/auth/login/"), 405)
    assert "GET" in body["detail"]


def test_malformed_json_is_problem_400(api_client):
    response = api_client.generic("POST", "/api/v1/auth/login/", '{"email": ', content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_unsupported_media_type_is_problem_415(api_client):
    response = api_client.generic("POST", "/api/v1/auth/login/", "email=a", content_type="text/plain")
    assert_problem(response, 415)


def test_validation_error_lists_fields(api_client):
    body = assert_problem(api_client.post("/api/v1/auth/login/", {}, format="json"), 400)
    assert set(body["errors"]) == {"email", "password"}
    assert body["title"] == "Validation failed"


@pytest.mark.urls("tests.common.urls_boom")
def test_unhandled_exception_is_problem_500_without_internals(api_client):
    body = assert_problem(api_client.get("/api/v1/boom/"), 500)
    assert "secret internals" not in str(body)
    assert "Traceback" not in str(body)


@pytest.mark.urls("tests.common.urls_boom")
def test_unhandled_exception_is_problem_500_even_with_debug(api_client, settings):
    settings.DEBUG = True
    body = assert_problem(api_client.get("/api/v1/boom/"), 500)
    assert "secret internals" not in str(body)


def test_non_api_404_is_not_problem_json(client):
    response = client.get("/not-the-api/")
    assert response.status_code == 404
    assert response["Content-Type"] != "application/problem+json"


def test_nested_validation_errors_are_flattened_to_paths():
    # The documented `errors` maps a field or JSON path to a list of messages (schemathesis found a nested dict).
    from common.exceptions import field_errors

    detail = {"input": {"a": ["This field may not be null."]}, "steps": [{}, {"id": ["Required."]}], "name": ["Bad."]}
    assert field_errors(detail) == {
        "input.a": ["This field may not be null."],
        "steps.1.id": ["Required."],
        "name": ["Bad."],
    }
    assert field_errors(["Not allowed."]) == {"non_field_errors": ["Not allowed."]}


@pytest.mark.django_db
def test_a_number_where_the_schema_says_string_is_a_400(auth_client):
    # DRF's CharField takes 0 as "0"; the schema's `type: string` does not (common/serializers.py).
    response = auth_client.patch("/api/v1/auth/me/", {"full_name": 0}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["full_name"]
