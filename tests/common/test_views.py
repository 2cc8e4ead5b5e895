"""`/`: a public page that points to the API docs, the admin and the health endpoints."""

import re

import pytest
from pytest_django.asserts import assertContains

HOME_LINKS = [
    "/api/v2/docs/",
    "/api/v2/redoc/",
    "/api/v2/schema/",
    "/api/v1/docs/",
    "/api/v1/redoc/",
    "/api/v1/schema/",
    "/admin/",
    "/health/live/",
    "/health/ready/",
    "/health/detailed/",
]


def test_home_answers_200_to_anyone_without_the_database(client):
    # No django_db mark: a query here would fail the test (the page must work while the database is down).
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("href", HOME_LINKS)
def test_home_links(client, href):
    assertContains(client.get("/"), f'href="{href}"')


def test_home_references_no_other_host(client):
    html = client.get("/").content.decode()
    assert re.findall(r"(?:https?:)?//[^\s\"'<>]+", html) == []
    assert "<script" not in html


def test_a_host_django_refuses_answers_problem_json_under_the_api(client, settings):
    """A Host outside ALLOWED_HOSTS is refused before any view: under /api/ with problem+json (schemathesis sent
    `Host: D` and got Django's HTML page), elsewhere with Django's page."""
    settings.ALLOWED_HOSTS = ["testserver"]  # the test settings allow any host
    api = client.get("/api/v1/projects/", HTTP_HOST="not-allowed.invalid")
    assert api.status_code == 400
    assert api["Content-Type"] == "application/problem+json"
    assert api.json()["code"] == "bad_request"
    page = client.get("/admin/", HTTP_HOST="not-allowed.invalid")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
