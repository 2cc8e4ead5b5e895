"""The API against its own OpenAPI schema, per version: schemathesis generates requests (valid and invalid) for every
operation and runs all its checks on real gunicorn, signed in as a project owner whose rows the path ids name.

Every check is on: no 5xx, no status or content type the schema does not document, every body matches its schema,
schema-valid requests are accepted and invalid ones rejected. What is configured, and why, is in docs/security.md
("Schema fuzzing"). The run is derandomized (fixed seeds), so CI sees the same cases every time.

The schemas are built in-process when this module is imported (drf-spectacular's generator, as `manage.py
spectacular` does), because schemathesis makes one test per operation at collection time; the live server must
serve the same documents (`test_the_fuzzed_schema_is_the_served_one`).
"""

import json
import uuid

import hypothesis
import pytest
import schemathesis
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters

from accounts.models import DataExport, User
from projects.models import Role
from tests.common.servers import Gunicorn
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, WorkflowFactory
from workflows.models import Execution

# django_db (not transactional: that would flush the rows between tests) so that pytest-django sets the test
# database up; the rows themselves are committed by the module's fixture, for gunicorn to read.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

VERSIONS = ("1", "2")
SEED = 20261202
# Fuzzed examples per operation (the examples and coverage phases add their own, deterministic, cases).
MAX_EXAMPLES = 3
MIN_CASES = 1000
# The rows the path ids name: fixed, so that the operations' parameters are known when the tests are collected.
IDS = {
    name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://fuzz.invalid/{name}"))
    for name in (
        "project",
        "doomed_project",
        "member",
        "doomed_member",
        "workflow",
        "doomed_workflow",
        "execution",
        "export",
    )
}
OWNER, ERASABLE = "owner@fuzz.example.com", "erasable@fuzz.example.com"
CASES: dict[str, int] = dict.fromkeys(VERSIONS, 0)


def generated_schema(version: str) -> dict:
    # The JSON round trip turns the generator's lazy strings and tuples into plain JSON, as served.
    return json.loads(json.dumps(SchemaGenerator(api_version=version).get_schema(request=None, public=True)))


def path_ids(version: str) -> list[dict]:
    """Operation overrides: each path's ids name a row of the owner's (a DELETE names a doomed one)."""
    prefix = f"/api/v{version}"

    def op(path: str, method: str | None = None, **params: str) -> dict:
        entry = {"include-path": prefix + path, "parameters": {f"path.{k}": IDS[v] for k, v in params.items()}}
        entry.update({"include-method": method} if method else {"exclude-method": "DELETE"})
        return entry

    return [
        op("/projects/{id}/", id="project"),
        op("/projects/{id}/", "DELETE", id="doomed_project"),
        op("/projects/{project_pk}/members/", project_pk="project"),
        op("/projects/{project_pk}/members/{id}/", project_pk="project", id="member"),
        op("/projects/{project_pk}/members/{id}/", "DELETE", project_pk="project", id="doomed_member"),
        op("/projects/{project_pk}/workflows/", project_pk="project"),
        op("/workflows/{id}/", id="workflow"),
        op("/workflows/{id}/", "DELETE", id="doomed_workflow"),
        op("/workflows/{workflow_pk}/executions/", workflow_pk="workflow"),
        op("/workflows/{workflow_pk}/versions/", workflow_pk="workflow"),
        op("/executions/{id}/", id="execution"),
        op("/executions/{id}/cancel/", id="execution"),
        op("/auth/me/export/{id}/", id="export"),
        op("/auth/me/export/{id}/download/", id="export"),
    ]


# Operations whose bodies obey rules that JSON Schema cannot state: there a schema-valid request may get a 400
# naming the rule, so positive_data_acceptance also accepts 400 for them (and only them). docs/security.md lists
# the same operations with the same reasons; every other check stays as it is.
RULES_BEYOND_THE_SCHEMA = {
    ("POST", "/auth/register/"): "password strength (Django's validators), a taken email",
    ("POST", "/auth/password/"): "the current password must be right; the new one strong",
    ("DELETE", "/auth/me/"): "the account's password confirms the erasure",
    ("POST", "/projects/"): "a taken slug",
    ("PATCH", "/projects/{id}/"): "a taken slug",
    ("POST", "/projects/{project_pk}/members/"): "the email must be a registered user's, not already a member",
    ("POST", "/projects/{project_pk}/workflows/"): "a definition's step graph and each step type's config",
    ("PATCH", "/workflows/{id}/"): "a definition's step graph and each step type's config",
    ("POST", "/workflows/{workflow_pk}/executions/"): "the input against the workflow's own input schema",
}
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # schemathesis' defaults, less 5xx
# A conditional write: a schema-valid If-Match names an ETag the fuzzer cannot know, so 412 is a right answer too.
# By operation id, listed first: schemathesis' path filters also match other paths with the same template
# ({id}), and the first explicit setting wins.
PRECONDITIONS = ["workflows_partial_update"]


def preconditions() -> list[dict]:
    return [
        {
            "include-operation-id": operation_id,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400", "412"]}},
        }
        for operation_id in PRECONDITIONS
    ]


def rules_beyond_the_schema(version: str) -> list[dict]:
    return [
        {
            "include-path": f"/api/v{version}{path}",
            "include-method": method,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}},
        }
        for method, path in RULES_BEYOND_THE_SCHEMA
    ]


def load_schema(version: str) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "checks": {"enabled": True, "positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
            "generation": {"mode": "all", "deterministic": True},
            "operations": [*preconditions(), *path_ids(version), *rules_beyond_the_schema(version)],
        }
    )
    return schemathesis.openapi.from_dict(generated_schema(version), config=config)


SCHEMAS = {version: load_schema(version) for version in VERSIONS}


def seed_rows(owner: User) -> None:
    """The owner's project, workflow, execution, member and data export, plus a second of each kind for the DELETE
    operations to remove (so that deletes do not empty what the other operations read)."""
    project = ProjectFactory(id=IDS["project"])
    MembershipFactory(project=project, user=owner, role=Role.OWNER)
    MembershipFactory(project=ProjectFactory(id=IDS["doomed_project"]), user=owner, role=Role.OWNER)
    MembershipFactory(id=IDS["member"], project=project, role=Role.VIEWER)
    MembershipFactory(id=IDS["doomed_member"], project=project, role=Role.VIEWER)
    workflow = WorkflowFactory(id=IDS["workflow"], project=project)
    WorkflowFactory(id=IDS["doomed_workflow"], project=project)
    Execution.objects.create(
        id=IDS["execution"], workflow=workflow, workflow_version=workflow.versions.get(), input={"name": "fuzz"}
    )
    DataExport.objects.create(id=IDS["export"], user=owner)


class PatientGunicorn(Gunicorn):
    """Gunicorn given two minutes to boot: on a loaded CI machine two workers importing the app take a while."""

    def _wait_ready(self, timeout: float = 120.0) -> None:
        super()._wait_ready(timeout)


class LiveApi:
    """A gunicorn serving the API (production settings) and the bearer tokens of who calls."""

    def __init__(self, server: Gunicorn):
        self.server = server
        self.base_url = f"http://127.0.0.1:{server.port}"
        self.tokens = {email: self.register(email) for email in (OWNER, ERASABLE)}

    def register(self, email: str) -> str:
        """Signs up through the API (so with the production password hasher) and returns the access token."""
        body = {"email": email, "password": PASSWORD, "confirm_password": PASSWORD, "full_name": "Fuzz Caller"}
        status, _, answer = self.server.request("POST", "/api/v1/auth/register/", body=body)
        assert status == 201, answer
        return json.loads(answer)["access_token"]

    def headers_for(self, case) -> dict:
        # A negative case that removes the credentials on purpose is sent without them.
        if ("Authorization", ParameterLocation.HEADER) in set(negated_parameters(case.meta)):
            return {}
        # Erasing one's account signs one out for good: that operation runs as a user of its own.
        erases = case.method.upper() == "DELETE" and case.path.endswith("/auth/me/")
        return {"Authorization": f"Bearer {self.tokens[ERASABLE if erases else OWNER]}"}


@pytest.fixture(scope="module")
def live_api(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        try:
            with PatientGunicorn(workers=2, JWT_ACCESS_TTL="3600") as server:
                api = LiveApi(server)
                seed_rows(User.objects.get(email=OWNER))
                yield api
        finally:
            call_command("flush", interactive=False, verbosity=0)


def test_the_fuzzed_schema_is_the_served_one(live_api):
    for version in VERSIONS:
        status, _, body = live_api.server.request("GET", f"/api/v{version}/schema/?format=json")
        assert status == 200
        assert json.loads(body) == generated_schema(version)


def fuzz_test(version: str):
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @SCHEMAS[version].parametrize()
    def test(case, live_api):
        CASES[version] += 1
        case.call_and_validate(base_url=live_api.base_url, headers=live_api.headers_for(case))

    return test


test_v1_conforms_to_its_schema = fuzz_test("1")
test_v2_conforms_to_its_schema = fuzz_test("2")


def test_enough_cases_were_generated():
    """Runs after the fuzz tests above (pytest keeps the file's order): together they made enough cases."""
    total = sum(CASES.values())
    print(f"schemathesis: {total} generated cases ({CASES})")
    assert total >= MIN_CASES, CASES
