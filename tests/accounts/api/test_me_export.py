"""POST /auth/me/export/, its status and its download: only the owner sees an export, for 7 days."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.gdpr import export
from accounts.models import DataExport
from audit.models import AuditEvent
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.support import wait_for

EXPORT = "/api/v1/auth/me/export/"


def detail(export_id, version="v1") -> str:
    return f"/api/{version}/auth/me/export/{export_id}/"


@pytest.fixture
def ready(user, gdpr_storage):
    """A built export of `user`."""
    return export.data_export_build(export_id=DataExport.objects.create(user=user).pk)


@pytest.mark.django_db
def test_request_answers_202_pending_queues_the_build_and_is_audited(
    auth_client, user, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(export.current_app, "send_task", lambda name, **options: sent.append((name, options)))

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(EXPORT)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["download_url"] is None
    assert DataExport.objects.get(pk=body["id"]).user == user
    assert [(name, options["args"]) for name, options in sent] == [(export.BUILD_TASK, [body["id"]])]
    assert AuditEvent.objects.filter(action="gdpr.export", actor_id=user.pk, resource_id=body["id"]).exists()


@pytest.mark.django_db
def test_a_ready_export_has_a_download_url_in_the_same_version(auth_client, ready):
    body = auth_client.get(detail(ready.pk, "v2")).json()["data"]

    assert body["status"] == "ready"
    assert body["download_url"] == f"http://testserver{detail(ready.pk, 'v2')}download/"


@pytest.mark.django_db
def test_download_is_the_json_document_as_an_attachment(auth_client, ready, user):
    response = auth_client.get(f"{detail(ready.pk, 'v2')}download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    document = json.loads(b"".join(response.streaming_content))
    assert document["profile"]["email"] == user.email  # not wrapped in v2's envelope
    assert AuditEvent.objects.filter(action="gdpr.export.downloaded", resource_id=str(ready.pk)).exists()


@pytest.mark.django_db
def test_someone_elses_export_is_404(ready):
    other = client_for(UserFactory())

    assert other.get(detail(ready.pk)).status_code == 404
    assert other.get(f"{detail(ready.pk)}download/").status_code == 404


@pytest.mark.django_db
def test_an_export_past_seven_days_is_expired_and_its_download_410(auth_client, ready):
    DataExport.objects.filter(pk=ready.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert auth_client.get(detail(ready.pk)).json()["status"] == "expired"
    gone = auth_client.get(f"{detail(ready.pk)}download/")
    assert gone.status_code == 410
    assert gone["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_a_pending_export_cannot_be_downloaded_yet(auth_client, user):
    pending = DataExport.objects.create(user=user)

    response = auth_client.get(f"{detail(pending.pk)}download/")

    assert response.status_code == 409
    assert response.json()["code"] == "export_pending"


@pytest.mark.django_db
def test_export_needs_authentication(api_client):
    assert api_client.post(EXPORT).status_code == 401


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_export_is_built_by_a_real_worker_end_to_end(start_worker, gdpr_storage, user):
    start_worker(EXPORTS_LOCAL_DIR=str(gdpr_storage["exports"]))
    client = client_for(user)

    requested = client.post(EXPORT).json()

    def built():
        body = client.get(detail(requested["id"])).json()
        return body if body["status"] in ("ready", "failed") else None

    body = wait_for(built, timeout=60, message="the export to be built")
    assert body["status"] == "ready"
    document = json.loads(
        b"".join(client.get(body["download_url"].removeprefix("http://testserver")).streaming_content)
    )
    assert document["subject"] == {"id": str(user.pk)}
    assert document["profile"]["email"] == user.email
