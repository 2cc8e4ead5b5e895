"""Project secrets in workflows, in-process: {{ secrets.NAME }} checked at save, decrypted for the step that names
it, redacted from everything the run stores and logs; literal credentials refused in http steps."""

import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from audit.models import AuditEvent
from common import redaction
from common.tracing import setup_tracing, shutdown_tracing
from projects.models import ProjectSecret, Role
from tests.factories import ProjectSecretFactory, UserFactory, WorkflowFactory
from tests.support import columns_containing
from tests.workflows.steps.conftest import LocalServer, Reply
from workflows import runner
from workflows.definition import DefinitionError, secret_references, validate_definition
from workflows.models import Execution, StepRun, WorkflowVersion
from workflows.services import workflow_create, workflow_update

pytestmark = pytest.mark.django_db

TOKEN = "tok-0123456789abcdefXYZ"


@pytest.fixture
def echo(settings):
    """A local server whose /echo answers with the request's headers and body, as debugging services do."""
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    local = LocalServer()
    local.route("/echo", lambda r: Reply(json={"headers": r.headers, "body": r.body.decode()}))
    yield local
    local.close()


def http_definition(url: str, headers=None, **config) -> dict:
    return {"steps": [{"id": "call", "type": "http", "config": {"url": url, "headers": headers or {}, **config}}]}


def run(definition, project=None, **secrets) -> Execution:
    workflow = WorkflowFactory(definition=definition, **({"project": project} if project else {}))
    for name, value in secrets.items():
        ProjectSecretFactory(project=workflow.project, name=name, value=value)
    version = WorkflowVersion.objects.get(workflow=workflow)
    execution = Execution.objects.create(workflow=workflow, workflow_version=version, input={})
    runner.execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    return execution


def errors_of(definition) -> dict:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition)
    return caught.value.errors


# --- definitions -------------------------------------------------------------------------------------------------


def test_secret_references_are_found_with_their_paths():
    definition = http_definition("https://api.example.com/", {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    definition["steps"][0]["config"]["json"] = {"k": "{{ secrets['OTHER'] }}"}
    assert secret_references(definition) == {
        "API_TOKEN": ["steps[0].config.headers.Authorization"],
        "OTHER": ["steps[0].config.json.k"],
    }


def test_a_secret_must_be_named_literally():
    definition = http_definition("https://api.example.com/", json={"k": "{{ secrets[input.which] }}"})
    assert "name each project secret literally" in errors_of(definition)["steps[0].config.json.k"][0]


def test_secrets_are_refused_in_the_output():
    definition = http_definition("https://api.example.com/")
    definition["output"] = {"leak": "{{ secrets.API_TOKEN }}"}
    assert errors_of(definition) == {"output.leak": ["project secrets can be used in step configs only"]}


def test_an_invalid_secret_name_is_refused():
    definition = http_definition("https://api.example.com/", {"Authorization": "Bearer {{ secrets.lower }}"})
    assert "not a valid secret name" in errors_of(definition)["steps[0].config.headers.Authorization"][0]


@pytest.mark.parametrize(
    ("headers", "url", "path"),
    [
        ({"Authorization": "Bearer abc123def456"}, "https://a.example/", "steps[0].config.headers.Authorization"),
        (
            {"Proxy-Authorization": "Basic dXNlcjpwYXNz"},
            "https://a.example/",
            "steps[0].config.headers.Proxy-Authorization",
        ),
        ({"Cookie": "session=abcdef"}, "https://a.example/", "steps[0].config.headers.Cookie"),
        ({"X-Api-Key": "k-123"}, "https://a.example/", "steps[0].config.headers.X-Api-Key"),
        ({"X-Session-Token": "t"}, "https://a.example/", "steps[0].config.headers.X-Session-Token"),
        ({"Client-Secret": "abc{{ secrets.S }}"}, "https://a.example/", "steps[0].config.headers.Client-Secret"),
        ({"Authorization": "{{ 'sk-live-constant' }}"}, "https://a.example/", "steps[0].config.headers.Authorization"),
        ({}, "https://user:hunter22@a.example/", "steps[0].config.url"),
        ({}, "https://sk_live_key@a.example/", "steps[0].config.url"),
    ],
)
def test_literal_credentials_in_http_steps_are_refused_naming_the_path(headers, url, path):
    errors = errors_of(http_definition(url, headers))
    assert list(errors) == [path]
    assert "project secret" in errors[path][0] and "{{ secrets.NAME }}" in errors[path][0]


@pytest.mark.parametrize(
    ("headers", "url"),
    [
        ({"Authorization": "Bearer {{ secrets.API_TOKEN }}"}, "https://a.example/"),
        ({"Authorization": "{{ secrets.API_TOKEN }}"}, "https://a.example/"),
        ({"Cookie": "a={{ secrets.A }}; b={{ secrets.B }}"}, "https://a.example/"),
        ({"X-Api-Key": "{{ steps.login.output.json.key }}"}, "https://a.example/"),
        ({"Accept": "application/json", "X-Request-Id": "abc"}, "https://a.example/"),
        ({}, "https://{{ secrets.USER }}:{{ secrets.PASSWORD }}@a.example/"),
        ({}, "https://api:{{ secrets.PASSWORD }}@a.example/"),
    ],
)
def test_templated_credentials_are_accepted(headers, url):
    definition = http_definition(url, headers)
    if "steps.login" in str(headers):
        definition["steps"].insert(0, {"id": "login", "type": "transform", "config": {"value": {"key": "k"}}})
        definition["steps"][1]["depends_on"] = ["login"]
    validate_definition(definition)


# --- saving: every named secret must exist -----------------------------------------------------------------------


def test_saving_a_workflow_naming_a_missing_secret_is_refused_naming_it(project_with_roles):
    project, users = project_with_roles
    definition = http_definition("https://a.example/", {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    from common.errors import Invalid

    with pytest.raises(Invalid) as caught:
        workflow_create(project=project, role=Role.EDITOR, name="w", definition=definition, actor=users["editor"])
    assert list(caught.value.field_errors) == ["definition.steps[0].config.headers.Authorization"]
    assert (
        "unknown project secret 'API_TOKEN'"
        in caught.value.field_errors["definition.steps[0].config.headers.Authorization"][0]
    )


def test_saving_through_the_api_is_400_naming_the_secret(project_with_roles):
    from tests.conftest import client_for

    project, users = project_with_roles
    definition = http_definition("https://a.example/", {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    response = client_for(users["editor"]).post(
        f"/api/v1/projects/{project.pk}/workflows/", {"name": "w", "definition": definition}, format="json"
    )
    assert response.status_code == 400
    assert "API_TOKEN" in response.json()["errors"]["definition.steps[0].config.headers.Authorization"][0]


def test_saving_with_the_secret_present_succeeds_and_an_update_is_checked_too(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(project=project, name="API_TOKEN")
    definition = http_definition("https://a.example/", {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    workflow = workflow_create(
        project=project, role=Role.EDITOR, name="w", definition=definition, actor=users["editor"]
    )
    changed = http_definition("https://a.example/", {"Authorization": "Bearer {{ secrets.OTHER }}"})
    from common.errors import Invalid

    with pytest.raises(Invalid):
        workflow_update(workflow=workflow, role=Role.EDITOR, actor=users["editor"], definition=changed)


def test_a_secret_of_another_project_does_not_count(project_with_roles):
    project, users = project_with_roles
    ProjectSecretFactory(name="API_TOKEN")  # another project
    definition = http_definition("https://a.example/", {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    from common.errors import Invalid

    with pytest.raises(Invalid):
        workflow_create(project=project, role=Role.EDITOR, name="w", definition=definition, actor=users["editor"])


# --- running -----------------------------------------------------------------------------------------------------


def test_the_step_sends_the_secret_and_its_echo_is_stored_redacted(echo):
    definition = http_definition(
        echo.url("/echo"),
        {"Authorization": "Bearer {{ secrets.API_TOKEN }}", "X-Trace-Me": "{{ secrets.API_TOKEN }}"},
        method="POST",
        body="token={{ secrets.API_TOKEN }}",
    )
    execution = run(definition, API_TOKEN=TOKEN)

    assert execution.status == "completed", execution.error
    assert echo.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert echo.received[0].headers["X-Trace-Me"] == TOKEN
    output = StepRun.objects.get(execution=execution).output
    assert output["json"]["headers"]["Authorization"] == "[redacted]"
    assert output["json"]["headers"]["X-Trace-Me"] == "[redacted]"  # not a credential header: known as a secret
    assert output["json"]["body"] == "token=[redacted]"
    assert columns_containing(TOKEN) == []


def test_using_a_secret_marks_it_used_and_is_an_audit_event(echo):
    definition = http_definition(echo.url("/echo"), {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    execution = run(definition, API_TOKEN=TOKEN)
    secret = ProjectSecret.objects.get(name="API_TOKEN")
    assert secret.last_used_at is not None
    event = AuditEvent.objects.get(action="secret.used")
    assert event.detail == {"name": "API_TOKEN", "execution_id": str(execution.pk), "step_id": "call"}
    assert event.project_id == secret.project_id


def test_only_the_named_secrets_are_decrypted(echo):
    definition = http_definition(echo.url("/echo"), {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    run(definition, API_TOKEN=TOKEN, UNUSED="unused-value-0123")
    assert ProjectSecret.objects.get(name="UNUSED").last_used_at is None
    assert list(AuditEvent.objects.filter(action="secret.used").values_list("detail__name", flat=True)) == ["API_TOKEN"]


def test_a_deleted_secret_fails_the_step_naming_it(echo):
    definition = http_definition(echo.url("/echo"), {"Authorization": "Bearer {{ secrets.GONE }}"})
    execution = run(definition)
    step = StepRun.objects.get(execution=execution)
    assert execution.status == "failed"
    assert step.status == "failed"
    assert "project secret 'GONE' does not exist" in step.error
    assert echo.received == []


def test_the_secret_is_redacted_from_an_error_and_from_logs(echo, caplog):
    echo.route("/fail", lambda r: Reply(status=400, body=r.headers["X-Key-Echo"].encode()))
    definition = http_definition(echo.url("/fail"), {"X-Key-Echo": "{{ secrets.API_TOKEN }}"})
    definition["steps"][0]["config"]["headers"]["X-Note"] = "{{ secrets.API_TOKEN }}"
    with caplog.at_level(logging.DEBUG):
        execution = run(definition, API_TOKEN=TOKEN)
        logging.getLogger("aiassistant.test").info("value seen: %s", TOKEN)  # as a careless log line would
    assert execution.status == "failed"
    assert TOKEN not in execution.error and TOKEN not in StepRun.objects.get(execution=execution).error
    assert "[redacted]" in StepRun.objects.get(execution=execution).error
    assert columns_containing(TOKEN) == []
    formatted = [redaction.for_logs().text(record.getMessage()) for record in caplog.records]
    assert all(TOKEN not in line for line in formatted)


def test_another_projects_output_is_not_redacted_by_this_projects_secret(echo):
    definition = http_definition(echo.url("/echo"), {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    run(definition, API_TOKEN=TOKEN)
    other = run({"steps": [{"id": "say", "type": "transform", "config": {"value": TOKEN}}]})
    assert other.output == {"say": TOKEN}


def test_a_step_that_names_no_secret_gets_none(echo):
    definition = {
        "steps": [
            {
                "id": "a",
                "type": "http",
                "config": {"url": echo.url("/echo"), "headers": {"X-Api-Key": "{{ secrets.K }}"}},
            },
            {
                "id": "b",
                "type": "transform",
                "depends_on": ["a"],
                "config": {"value": "{{ steps.a.output.status_code }}"},
            },
        ]
    }
    execution = run(definition, K=TOKEN)
    assert execution.status == "completed"
    assert AuditEvent.objects.filter(action="secret.used").count() == 1


def test_the_actor_of_a_use_is_who_triggered_the_execution(echo):
    user = UserFactory()
    workflow = WorkflowFactory(
        definition=http_definition(echo.url("/echo"), {"Authorization": "Bearer {{ secrets.API_TOKEN }}"})
    )
    ProjectSecretFactory(project=workflow.project, name="API_TOKEN", value=TOKEN)
    version = WorkflowVersion.objects.get(workflow=workflow)
    execution = Execution.objects.create(workflow=workflow, workflow_version=version, input={}, triggered_by=user)
    runner.execution_run(execution_id=execution.pk)
    assert AuditEvent.objects.get(action="secret.used").actor_id == user.pk


@pytest.fixture
def spans():
    """Tracing on, spans kept in memory (as tests/common/test_tracing.py does)."""
    exporter = InMemorySpanExporter()
    assert setup_tracing(exporter=exporter, simple=True)
    try:
        yield exporter
    finally:
        shutdown_tracing()


def test_a_secret_in_a_url_is_redacted_from_the_traces(echo, spans):
    definition = http_definition(echo.url("/echo") + "?api_key={{ secrets.API_TOKEN }}")
    execution = run(definition, API_TOKEN=TOKEN)
    assert execution.status == "completed", execution.error
    assert echo.received[0].path.endswith(f"api_key={TOKEN}")
    exported = spans.get_finished_spans()
    urls = [str(v) for span in exported for k, v in (span.attributes or {}).items() if "url" in k]
    assert any("[redacted]" in url for url in urls), urls
    assert all(TOKEN not in repr(dict(span.attributes or {})) + span.name for span in exported)
