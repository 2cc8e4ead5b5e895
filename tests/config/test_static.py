"""Static files behind a CDN: pages link STATIC_CDN_URL, whitenoise sends hashed names with far-future headers, and
STATIC_STORAGE=s3 puts them in a bucket (moto's standalone server). Real processes: collectstatic and gunicorn with
production settings."""

import json
import re
import subprocess
import sys
import uuid

import boto3
import pytest

from tests.common.servers import ROOT, Gunicorn, production_env

CDN = "https://cdn.example.com/static/"
FAR_FUTURE = "max-age=315360000, public, immutable"  # whitenoise's header for a hashed (immutable) name


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def collected(tmp_path_factory, django_db_setup, django_db_blocker):
    """collectstatic as the Dockerfile runs it (production settings, hashed and compressed names) into a folder."""
    root = tmp_path_factory.mktemp("static")
    with django_db_blocker.unblock():
        env = production_env(STATIC_ROOT=root, STATIC_CDN_URL=CDN)
    result = manage(env, "collectstatic", "--no-input")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((root / "staticfiles.json").read_text())["paths"]
    return root, manifest


@pytest.fixture(scope="module")
def server(collected):
    root, _ = collected
    with Gunicorn(STATIC_ROOT=root, STATIC_CDN_URL=CDN) as gunicorn:
        yield gunicorn


def test_the_admin_links_its_assets_on_the_cdn(server, collected):
    _, manifest = collected
    status, headers, body = server.request("GET", "/admin/login/")
    assert status == 200
    assert f"{CDN}{manifest['admin/css/base.css']}" in body.decode()
    assert "https://cdn.example.com" in headers["Content-Security-Policy"]


def test_the_api_docs_link_their_assets_on_the_cdn(server):
    status, _, body = server.request("GET", "/api/v1/docs/")
    assert status == 200
    assert re.search(
        rf"{re.escape(CDN)}drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.[0-9a-f]{{12}}\.js", body.decode()
    )


def test_a_hashed_file_is_served_with_far_future_headers(server, collected):
    _, manifest = collected
    status, headers, _ = server.request("GET", f"/static/{manifest['admin/css/base.css']}")
    assert status == 200
    assert headers["Cache-Control"] == FAR_FUTURE


def test_an_unhashed_name_is_not_cached_for_long(server):
    status, headers, _ = server.request("GET", "/static/admin/css/base.css")
    assert status == 200
    assert "immutable" not in headers.get("Cache-Control", "")


def test_a_cdn_url_that_is_not_absolute_stops_the_process_with_one_line():
    result = manage(production_env(STATIC_CDN_URL="cdn.example.com/static"), "check")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "configuration error: STATIC_CDN_URL must be an absolute URL ending in / (see .env.example)"
    ]


def test_s3_static_storage_without_its_bucket_stops_the_process_with_one_line():
    result = manage(production_env(STATIC_STORAGE="s3", STATIC_CDN_URL=CDN), "check")
    assert result.returncode != 0
    assert "STATIC_S3_BUCKET" in result.stderr.strip().splitlines()[-1]


@pytest.mark.django_db
def test_collectstatic_uploads_hashed_names_to_s3_linked_on_the_cdn(moto_endpoint):
    bucket = f"static-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    env = production_env(
        STATIC_STORAGE="s3",
        STATIC_S3_BUCKET=bucket,
        STATIC_CDN_URL="https://cdn.example.com/assets/",
        AWS_S3_ENDPOINT_URL=moto_endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    result = manage(env, "collectstatic", "--no-input", "-i", "drf_spectacular_sidecar")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="assets/staticfiles.json")["Body"].read())["paths"]
    hashed = manifest["admin/css/base.css"]
    assert (
        s3.head_object(Bucket=bucket, Key=f"assets/{hashed}")["CacheControl"] == "public, max-age=31536000, immutable"
    )
    linked = manage(
        env, "shell", "-c", "from django.templatetags.static import static; print(static('admin/css/base.css'))"
    )
    assert linked.returncode == 0, linked.stderr
    assert linked.stdout.strip().splitlines()[-1] == f"https://cdn.example.com/assets/{hashed}"
