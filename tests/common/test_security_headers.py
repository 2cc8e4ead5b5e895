"""Security headers on every response: the Content-Security-Policy (nonce-based, one per response), Referrer-Policy,
Permissions-Policy, Cross-Origin-Opener-Policy; and CORS for CORS_ALLOWED_ORIGINS only (docs/security.md).

The browser side (every page renders under the policy, no violation in the console) is
tests/common/test_docs_browser.py."""

import re

import pytest
from django.test import override_settings

PAGES = ["/", "/admin/login/", "/api/v1/docs/", "/api/v2/redoc/", "/api/v1/projects/", "/health/live/"]
ALLOWED_ORIGIN = "https://app.example.com"


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def nonce_of(response) -> str:
    (nonce,) = [v for v in directives(response)["script-src"] if v.startswith("'nonce-")]
    return nonce.removeprefix("'nonce-").removesuffix("'")


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"].split(", ")
    assert "geolocation=()" in response["Permissions-Policy"].split(", ")
    assert directives(response)["default-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/", "/admin/login/"])
@pytest.mark.django_db
def test_the_policy_allows_nothing_from_another_origin_and_no_inline_code(client, path):
    policy = directives(client.get(path))
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]
        assert [v for v in policy[directive] if not v.startswith("'nonce-")] == ["'self'"]
    for values in policy.values():
        assert not [v for v in values if "://" in v or v == "*"], values


@pytest.mark.parametrize("path", ["/", "/api/v1/docs/", "/api/v2/redoc/"])
@pytest.mark.django_db
def test_inline_code_of_a_page_carries_that_responses_nonce(client, path):
    response = client.get(path)
    html = response.content.decode()
    inline = re.findall(r"<(script|style)(?![^>]*\ssrc=)([^>]*)>", html)
    assert inline, "the page has inline code (else this test proves nothing)"
    assert {attributes.strip() for _, attributes in inline} == {f'nonce="{nonce_of(response)}"'}


@pytest.mark.django_db
def test_each_response_has_its_own_nonce(client):
    assert nonce_of(client.get("/")) != nonce_of(client.get("/"))


@pytest.mark.django_db
def test_only_the_redoc_page_allows_its_bundles_own_style_by_hash(client):
    hashes = [v for v in directives(client.get("/api/v2/redoc/"))["style-src"] if v.startswith("'sha256-")]
    assert len(hashes) == 2
    assert not [v for v in directives(client.get("/api/v2/docs/"))["style-src"] if v.startswith("'sha256-")]


# --- CORS (django-cors-headers) ----------------------------------------------------------------------------------


@pytest.fixture
def cors_allowed():
    with override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN]):
        yield


def test_an_allowed_origin_may_read_api_responses(client, cors_allowed):
    response = client.get("/health/live/", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response  # outside /api/: never
    response = client.get("/api/v1/schema/", headers={"Origin": ALLOWED_ORIGIN})
    assert response["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Access-Control-Allow-Credentials" not in response
    assert "Deprecation" in response["Access-Control-Expose-Headers"]


@pytest.mark.django_db
def test_another_origin_gets_no_cors_header(client, cors_allowed):
    for origin in (
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "null",
        "http://app.example.com",
    ):
        response = client.get("/api/v1/projects/", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response, origin


@pytest.mark.django_db
def test_no_origin_is_allowed_by_default(client):
    response = client.get("/api/v1/projects/", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response


def test_preflight_from_an_allowed_origin_allows_the_apis_headers(client, cors_allowed):
    response = client.options(
        "/api/v1/projects/",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, api-version",
        },
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "api-version"} <= allowed
    assert response["Access-Control-Max-Age"] == "3600"


def test_preflight_from_another_origin_is_not_allowed(client, cors_allowed):
    response = client.options(
        "/api/v1/projects/",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "DELETE"},
    )
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response
