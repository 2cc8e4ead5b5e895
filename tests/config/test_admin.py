"""The admin: session login with CSRF, and every registered model's pages render."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    return client


def test_admin_login_requires_csrf_token():
    staff = UserFactory(is_staff=True)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 403


def test_admin_login_with_csrf_token_works():
    staff = UserFactory(is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.get("/admin/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/admin/login/",
        {"username": staff.email, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_non_staff_cannot_use_the_admin():
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/admin/").status_code == 302


def test_every_registered_model_changelist_renders_with_search(staff_client):
    MembershipFactory()
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        params = {"q": "x"} if model_admin.search_fields else {}
        response = staff_client.get(url, params)
        assert response.status_code == 200, url


def test_project_change_page_shows_members_inline(staff_client):
    membership = MembershipFactory()
    response = staff_client.get(reverse("admin:projects_project_change", args=[membership.project.pk]))
    assert response.status_code == 200
    assert membership.user.email in response.content.decode()


def test_the_invitation_page_is_read_only_and_hides_the_token_hash(staff_client):
    from datetime import timedelta

    from django.utils import timezone

    from projects.models import Invitation

    invitation = Invitation.objects.create(
        project=MembershipFactory().project,
        email="new@example.com",
        token_hash="f" * 64,
        expires_at=timezone.now() + timedelta(days=7),
    )
    response = staff_client.get(reverse("admin:projects_invitation_change", args=[invitation.pk]))
    assert response.status_code == 200
    assert "new@example.com" in response.content.decode()
    assert "f" * 64 not in response.content.decode()
    assert staff_client.get(reverse("admin:projects_invitation_add")).status_code == 403
