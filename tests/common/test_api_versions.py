"""API versions: v2's envelope and cursors, version negotiation on /api/, and v1's deprecation headers."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from common import api_versions
from common.api_versions.base import ApiVersion
from projects.models import Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _routes(resolver: URLResolver, prefix: str = "") -> set[str]:
    found = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found |= _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.add(prefix + str(pattern.pattern))
    return found


def mounted_routes(namespace: str) -> set[str]:
    """The routes of one API mount, relative to it (from the URLconf: a route added to one is seen here)."""
    mount = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == namespace)
    return _routes(mount)


def test_every_v1_route_is_also_under_v2_and_the_unversioned_api():
    assert mounted_routes("v1") == mounted_routes("v2") == mounted_routes("api")
    assert "projects/<uuid:pk>/" in mounted_routes("v2")


@pytest.fixture
def member(db):
    user = UserFactory()
    for _ in range(3):
        MembershipFactory(user=user, role=Role.OWNER)
    return user


def test_v2_object_is_wrapped_in_data_and_meta(member):
    project = member.memberships.first().project
    response = client_for(member).get(f"/api/v2/projects/{project.pk}/", HTTP_X_REQUEST_ID="req-v2")
    assert response.json() == {
        "data": client_for(member).get(f"/api/v1/projects/{project.pk}/").json(),
        "meta": {"api_version": "2", "request_id": "req-v2"},
    }
    assert response["API-Version"] == "2"


def test_v2_list_has_data_pagination_and_meta_without_a_count(member):
    with CaptureQueriesContext(connection) as queries:
        body = client_for(member).get("/api/v2/projects/?page_size=2").json()
    assert len(body["data"]) == 2
    assert body["pagination"]["page_size"] == 2
    assert body["pagination"]["has_more"] is True
    assert body["pagination"]["prev_cursor"] is None
    assert body["meta"]["api_version"] == "2"
    assert "total" not in body["pagination"]
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_v2_include_total_counts(member):
    body = client_for(member).get("/api/v2/projects/?include=total").json()
    assert body["pagination"]["total"] == 3


def test_v2_cursor_walks_every_row_once_despite_inserts_in_between(member):
    client = client_for(member)
    first = client.get("/api/v2/projects/?page_size=2").json()
    MembershipFactory(user=member, role=Role.OWNER)  # newer than everything listed: before page one
    second = client.get(f"/api/v2/projects/?page_size=2&cursor={first['pagination']['next_cursor']}").json()
    seen = [p["id"] for p in first["data"] + second["data"]]
    assert len(seen) == len(set(seen)) == 3
    assert second["pagination"]["has_more"] is False


def test_v2_lists_are_newest_first_by_default(member):
    body = client_for(member).get("/api/v2/projects/").json()
    created = [p["created_at"] for p in body["data"]]
    assert created == sorted(created, reverse=True)


def test_v2_ordering_and_filters_work_as_in_v1(member):
    client = client_for(member)
    by_name = client.get("/api/v2/projects/?ordering=name").json()["data"]
    assert [p["name"] for p in by_name] == sorted(p["name"] for p in by_name)
    assert client.get("/api/v2/projects/?role=viewer").json()["data"] == []


def test_v2_errors_stay_problem_json(member):
    response = client_for(member).get("/api/v2/projects/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert "data" not in response.json()


def test_v2_delete_stays_empty(member):
    project = member.memberships.first().project
    response = client_for(member).delete(f"/api/v2/projects/{project.pk}/")
    assert (response.status_code, response.content) == (204, b"")


@pytest.mark.parametrize(
    ("headers", "version"),
    [
        ({}, "1"),
        ({"HTTP_API_VERSION": "2"}, "2"),
        ({"HTTP_ACCEPT": "application/json; version=2"}, "2"),
        ({"HTTP_API_VERSION": "1"}, "1"),
    ],
)
def test_unversioned_path_negotiates_by_header(member, headers, version):
    response = client_for(member).get("/api/projects/", **headers)
    assert response.status_code == 200
    assert response["API-Version"] == version
    assert ("data" in response.json()) is (version == "2")
    assert "API-Version" in response["Vary"]


def test_unknown_version_is_400_listing_the_supported_ones(member):
    response = client_for(member).get("/api/projects/", HTTP_API_VERSION="7")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["supported_versions"] == ["1", "2"]


def test_the_path_version_wins_over_the_header(member):
    response = client_for(member).get("/api/v1/projects/", HTTP_API_VERSION="2")
    assert (response["API-Version"], "results" in response.json()) == ("1", True)


def test_every_api_response_carries_its_version(api_client):
    assert api_client.get("/api/v2/nowhere/")["API-Version"] == "2"
    assert api_client.post("/api/v1/nowhere/")["API-Version"] == "1"


def test_a_post_to_an_unknown_api_path_is_a_404_problem_not_a_csrf_page(api_client):
    response = api_client.post("/api/v1/nowhere/", {"a": 1}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


# --- deprecation and sunset ---------------------------------------------------------------------------------


def moment(**delta) -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(**delta)


def test_deprecated_v1_carries_deprecation_link_and_sunset(settings, member):
    deprecated, sunset = moment(days=-10).replace(microsecond=0), moment(days=200).replace(microsecond=0)
    settings.API_V1_DEPRECATION_DATE, settings.API_V1_SUNSET_DATE = deprecated, sunset
    response = client_for(member).get("/api/v1/projects/")
    assert response.status_code == 200
    assert response["Deprecation"] == f"@{int(deprecated.timestamp())}"
    assert response["Link"] == '</api/v2/docs/>; rel="deprecation"'
    assert response["Sunset"] == sunset.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert "Deprecation" not in client_for(member).get("/api/v2/projects/")


def test_v1_answers_410_after_its_sunset(settings, member):
    settings.API_V1_SUNSET_DATE = moment(seconds=-1)
    response = client_for(member).get("/api/v1/projects/")
    assert response.status_code == 410
    assert response.json()["successor"] == "/api/v2/"
    assert client_for(member).get("/api/v2/projects/").status_code == 200


def test_v1_answers_410_during_a_brownout_only(settings, member):
    settings.API_V1_BROWNOUTS = [(moment(minutes=-5), moment(minutes=5))]
    assert client_for(member).get("/api/v1/projects/").status_code == 410
    assert client_for(member).get("/api/projects/").status_code == 410  # the default version is v1
    settings.API_V1_BROWNOUTS = [(moment(minutes=-10), moment(minutes=-5))]
    assert client_for(member).get("/api/v1/projects/").status_code == 200


# --- a version is a module --------------------------------------------------------------------------------


def test_a_new_version_module_changes_a_resource_without_touching_the_views(monkeypatch, member):
    def rename(project: dict) -> dict:
        return {("title" if key == "name" else key): value for key, value in project.items()}

    v3 = ApiVersion(
        number="3",
        envelope=True,
        paginator="common.pagination.CursorPagination",
        changes={"project": rename},
    )
    monkeypatch.setitem(api_versions.VERSIONS, "3", v3)
    body = client_for(member).get("/api/projects/", HTTP_API_VERSION="3").json()
    assert body["meta"]["api_version"] == "3"
    assert all("title" in project and "name" not in project for project in body["data"])
