"""v1's page-number pagination reads a page and its total in one statement, the total capped in cost
(common.pagination)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.pagination import OneQueryPaginator
from projects.models import Membership, Project, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects(user):
    for _ in range(5):
        MembershipFactory(user=user, role=Role.OWNER)
    return Project.objects.filter(memberships__user=user)


def _project_statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "projects_project" in query["sql"]]


def test_a_page_and_its_total_are_one_statement(auth_client, projects):
    with CaptureQueriesContext(connection) as captured:
        body = auth_client.get("/api/v1/projects/?page_size=2&page=2").json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]
    statements = _project_statements(captured)
    assert len(statements) == 1, statements
    assert "SELECT COUNT(*) FROM (SELECT 1" in statements[0]
    assert "OVER ()" not in statements[0]


def test_pages_hold_the_same_rows_as_django_paginator(auth_client, projects):
    from django.core.paginator import Paginator

    expected = [str(pk) for pk in projects.order_by("name").values_list("id", flat=True)]
    seen = []
    for page in (1, 2, 3):
        body = auth_client.get(f"/api/v1/projects/?page_size=2&page={page}").json()
        seen += [item["id"] for item in body["results"]]
        assert body["count"] == Paginator(expected, 2).count
    assert seen == expected


def test_past_the_last_page_is_still_404_and_last_still_works(auth_client, projects):
    assert auth_client.get("/api/v1/projects/?page_size=2&page=4").status_code == 404
    assert auth_client.get("/api/v1/projects/?page_size=2&page=0").status_code == 404
    body = auth_client.get("/api/v1/projects/?page_size=2&page=last").json()
    assert [item["name"] for item in body["results"]] == [projects.order_by("name").last().name]


def test_an_empty_list_counts_zero(auth_client, user):
    Membership.objects.filter(user=user).delete()
    body = auth_client.get("/api/v1/projects/").json()
    assert (body["count"], body["results"]) == (0, [])


def test_above_the_exact_limit_the_count_is_an_estimate_and_next_still_walks_every_row(
    auth_client, projects, monkeypatch
):
    monkeypatch.setattr(OneQueryPaginator, "EXACT_COUNT_LIMIT", 2)
    expected = [str(pk) for pk in projects.order_by("name").values_list("id", flat=True)]
    seen, url, counts = [], "/api/v1/projects/?page_size=2", []
    while url:
        body = auth_client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        counts.append(body["count"])
        url = body["next"]
    assert seen == expected
    assert min(counts) > 2  # never below what the capped count saw (limit + 1)


def test_above_the_exact_limit_past_the_last_page_is_still_404(auth_client, projects, monkeypatch):
    monkeypatch.setattr(OneQueryPaginator, "EXACT_COUNT_LIMIT", 2)
    assert auth_client.get("/api/v1/projects/?page_size=2&page=4").status_code == 404
