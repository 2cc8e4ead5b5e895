"""`?page_size=`: a positive integer (capped at 100) or a 400 problem, in every version and paginator."""

import pytest

from tests.conftest import client_for
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/projects/", "/api/v2/projects/", "/api/v1/audit/events/", "/api/v2/audit/events/"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page_size", ["null", "0", "-1", "1.5", "２", "1&page_size=2"])
def test_a_page_size_that_is_not_one_positive_integer_is_a_400(path, page_size):
    response = client_for(MembershipFactory().user).get(f"{path}?page_size={page_size}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": ["page_size must be one positive integer."]}


@pytest.mark.parametrize("path", ["/api/v1/projects/", "/api/v2/projects/"])
def test_a_page_size_above_the_cap_is_capped(path):
    response = client_for(MembershipFactory().user).get(f"{path}?page_size=1000")
    assert response.status_code == 200
