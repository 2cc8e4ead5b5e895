"""The project secrets admin: names and metadata, never the value or its ciphertext; deletion goes through the
service (an audit event)."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from projects.models import ProjectSecret
from tests.factories import ProjectSecretFactory, UserFactory

pytestmark = pytest.mark.django_db

VALUE = "admin-never-shows-this-0123456789"


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_list_and_the_page_show_the_name_but_neither_value_nor_ciphertext(staff_client):
    secret = ProjectSecretFactory(name="API_TOKEN", value=VALUE, description="for the CRM")
    listing = staff_client.get(reverse("admin:projects_projectsecret_changelist")).content.decode()
    page = staff_client.get(reverse("admin:projects_projectsecret_change", args=[secret.pk])).content.decode()
    assert "API_TOKEN" in listing and "API_TOKEN" in page
    for html in (listing, page):
        assert VALUE not in html
        assert secret.ciphertext not in html


def test_the_admin_cannot_add_or_change_a_secret(staff_client):
    secret = ProjectSecretFactory(name="API_TOKEN", value=VALUE)
    assert staff_client.get(reverse("admin:projects_projectsecret_add")).status_code == 403
    staff_client.post(reverse("admin:projects_projectsecret_change", args=[secret.pk]), {"name": "OTHER"})
    assert ProjectSecret.objects.get().name == "API_TOKEN"


def test_deleting_in_the_admin_is_the_services_delete_with_its_audit_event(staff_client):
    secret = ProjectSecretFactory(name="API_TOKEN", value=VALUE)
    response = staff_client.post(reverse("admin:projects_projectsecret_delete", args=[secret.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not ProjectSecret.objects.exists()
    assert AuditEvent.objects.get(action="secret.deleted").detail == {"name": "API_TOKEN"}
