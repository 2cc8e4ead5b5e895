"""JSON log lines, request ids and context, redaction of secrets, and context carried into Celery tasks."""

import io
import json
import logging
import re
import threading

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from common import logging as log_context
from common.logging import ContextFilter, JsonFormatter, RedactionFilter
from tests.common.servers import Gunicorn
from tests.conftest import client_for

REQUIRED_FIELDS = {
    "timestamp",
    "level",
    "logger",
    "message",
    "service",
    "environment",
    "version",
    "request_id",
    "trace_id",
    "span_id",
    "user_id",
}
UTC_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class JsonCapture:
    """A handler configured as in production (JSON, context, redaction) attached to a logger."""

    def __init__(self, logger_name: str = ""):
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.addFilter(ContextFilter(service="aiassistant-api", environment="test", version="9.9.9"))
        self.handler.addFilter(RedactionFilter())
        self.logger = logging.getLogger(logger_name)

    def __enter__(self):
        self.logger.addHandler(self.handler)
        self._level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self._level)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


# --- format ----------------------------------------------------------------------------------------------------


def test_a_json_line_has_every_required_field():
    with JsonCapture("tests.logging") as capture:
        logging.getLogger("tests.logging").warning("hello %s", "world")

    (record,) = capture.records
    assert set(record) >= REQUIRED_FIELDS
    assert record["message"] == "hello world"
    assert record["level"] == "WARNING"
    assert record["logger"] == "tests.logging"
    assert record["service"] == "aiassistant-api"
    assert (record["environment"], record["version"]) == ("test", "9.9.9")
    assert UTC_ISO.match(record["timestamp"])


def test_bound_fields_appear_on_every_line_of_the_context():
    with JsonCapture("tests.logging") as capture, log_context.bound(execution_id="exec-1", request_id="req-1"):
        logging.getLogger("tests.logging").info("step done")

    (record,) = capture.records
    assert record["execution_id"] == "exec-1"
    assert record["request_id"] == "req-1"


def test_bound_fields_are_gone_after_the_block():
    with log_context.bound(execution_id="exec-1"):
        pass

    assert "execution_id" not in log_context.get_context()


# --- requests --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_writes_one_line_with_route_status_and_duration(user):
    with JsonCapture("aiassistant.request") as capture:
        response = client_for(user).get("/api/v1/projects/")

    (record,) = capture.records
    assert record["method"] == "GET"
    assert record["route"] == "api/v1/projects/"
    assert record["status"] == 200
    assert record["duration_ms"] >= 0
    assert record["user_id"] == str(user.pk)
    assert record["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_the_route_is_the_url_pattern_not_the_raw_path(user):
    with JsonCapture("aiassistant.request") as capture:
        client_for(user).get("/api/v1/projects/6f1d0c9e-0000-4000-8000-000000000001/")

    (record,) = capture.records
    assert record["route"] == "api/v1/projects/<uuid:pk>/"


@pytest.mark.django_db
def test_django_own_request_lines_carry_the_request_and_user_ids(user):
    with JsonCapture("django.request") as capture:
        response = client_for(user).get("/api/v1/projects/6f1d0c9e-0000-4000-8000-000000000001/")

    assert response.status_code == 404
    (record,) = capture.records
    assert record["request_id"] == response["X-Request-ID"]
    assert record["user_id"] == str(user.pk)


@pytest.mark.django_db
def test_a_valid_incoming_request_id_is_kept_and_echoed(client):
    with JsonCapture("aiassistant.request") as capture:
        response = client.get("/api/v1/projects/", HTTP_X_REQUEST_ID="abc-123.DEF_4")

    assert response["X-Request-ID"] == "abc-123.DEF_4"
    assert capture.records[0]["request_id"] == "abc-123.DEF_4"


@pytest.mark.django_db
def test_an_invalid_incoming_request_id_is_replaced(client):
    response = client.get("/api/v1/projects/", HTTP_X_REQUEST_ID="bad id\nwith injection")

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_an_oversized_request_id_is_replaced(client):
    response = client.get("/api/v1/projects/", HTTP_X_REQUEST_ID="a" * 129)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_the_caller_traceparent_trace_id_is_logged_without_tracing(client):
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    with JsonCapture("aiassistant.request") as capture:
        client.get("/api/v1/projects/", HTTP_TRACEPARENT=traceparent)

    assert capture.records[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


# --- redaction -------------------------------------------------------------------------------------------------

SECRET = "hunter2-super-secret-value"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def log_and_capture(*args, **kwargs) -> str:
    with JsonCapture("tests.redaction") as capture:
        logging.getLogger("tests.redaction").warning(*args, **kwargs)
    return capture.text


def test_password_in_a_dict_argument_is_redacted():
    text = log_and_capture("login payload %s", {"email": "a@example.com", "password": SECRET})

    assert SECRET not in text
    assert "a@example.com" in text


def test_password_in_extra_is_redacted():
    text = log_and_capture("login", extra={"password": SECRET, "payload": {"api_key": SECRET, "name": "x"}})

    assert SECRET not in text
    assert '"name": "x"' in text


def test_bearer_token_in_the_message_is_redacted():
    text = log_and_capture("headers: Authorization: Bearer %s", SECRET)

    assert SECRET not in text


def test_authorization_header_dict_is_redacted():
    text = log_and_capture("outbound %s", {"headers": {"Authorization": f"Basic {SECRET}", "Accept": "json"}})

    assert SECRET not in text
    assert "json" in text


def test_key_value_pairs_in_free_text_are_redacted():
    text = log_and_capture(f"calling https://api.example.com/?api_key={SECRET}&q=1 with password={SECRET}")

    assert SECRET not in text
    assert "q=1" in text


def test_a_jwt_anywhere_is_redacted():
    text = log_and_capture("refresh failed for %s", JWT)

    assert JWT not in text
    assert JWT.split(".")[1] not in text


def test_password_in_a_connection_url_is_redacted():
    text = log_and_capture(f"cannot reach postgres://app:{SECRET}@db.internal:5432/app")

    assert SECRET not in text
    assert "db.internal" in text


def test_configured_secret_values_are_redacted(settings):
    settings.LLM_API_KEY = "sk-live-0123456789abcdefghij"

    text = log_and_capture("LLM said no; key was %s; secret key %s", settings.LLM_API_KEY, settings.SECRET_KEY)

    assert settings.LLM_API_KEY not in text
    assert settings.SECRET_KEY not in text


def test_secrets_in_an_exception_message_are_redacted():
    with JsonCapture("tests.redaction") as capture:
        try:
            raise RuntimeError(f"upstream rejected token={SECRET}")
        except RuntimeError:
            logging.getLogger("tests.redaction").exception("call failed")

    assert SECRET not in capture.text
    assert "RuntimeError" in capture.text


@pytest.mark.django_db
def test_a_login_request_never_logs_the_password(api_client, user):
    with JsonCapture("") as capture:
        api_client.post("/api/v1/auth/login/", {"email": user.email, "password": SECRET})

    assert capture.records  # the request line was written
    assert SECRET not in capture.text


# --- production process: JSON on stdout ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_with_production_settings_writes_json_lines_on_stdout():
    with Gunicorn(workers=1) as server:
        status, headers, _ = server.request("GET", "/api/v1/projects/", headers={"X-Request-ID": "gunicorn-req-1"})
        output = server.output()

    assert status == 401
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (request_line,) = [line for line in lines if line["logger"] == "aiassistant.request"]
    assert {line["logger"] for line in lines} >= {"gunicorn.error", "aiassistant.request", "django.request"}
    assert set(request_line) >= REQUIRED_FIELDS
    assert request_line["request_id"] == "gunicorn-req-1"
    assert request_line["environment"] == "production"
    assert request_line["route"] == "api/v1/projects/"
    assert request_line["status"] == 401
    assert headers["X-Request-ID"] == "gunicorn-req-1"


# --- Celery: request id and execution id follow the task ------------------------------------------------------

seen_contexts: list[dict] = []
task_logged = threading.Event()


@pytest.fixture
def celery_app(settings):
    app = Celery("obs-logging-test", broker=settings.CACHES["default"]["LOCATION"], set_as_current=False)
    app.conf.task_default_queue = "obs-logging-test"

    @app.task(name="obs.tests.record_context")
    def record_context():
        seen_contexts.append(log_context.get_context())
        logging.getLogger("tests.task").info("inside the task")
        task_logged.set()

    app.record_context = record_context
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield app


def test_request_and_execution_ids_are_carried_into_the_task(celery_app):
    seen_contexts.clear()
    task_logged.clear()

    with JsonCapture("tests.task") as capture:
        with log_context.bound(request_id="req-into-task", execution_id="exec-42"):
            celery_app.record_context.delay()
        assert task_logged.wait(20)

    assert seen_contexts[0]["request_id"] == "req-into-task"
    assert seen_contexts[0]["execution_id"] == "exec-42"
    assert seen_contexts[0]["task"] == "obs.tests.record_context"
    (record,) = capture.records
    assert (record["request_id"], record["execution_id"]) == ("req-into-task", "exec-42")


def test_http_client_request_urls_are_not_logged_at_info():
    from django.conf import settings

    assert settings.LOGGING["loggers"]["httpx"]["level"] == "WARNING"
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
