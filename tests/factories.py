"""factory_boy factories for every model the tests build."""

import factory

from accounts.models import User
from common import encryption
from projects.models import Membership, Project, ProjectSecret, Role
from workflows.models import Workflow, WorkflowVersion

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    description = "A test project"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class ProjectSecretFactory(factory.django.DjangoModelFactory):
    """A project secret encrypted as the service stores it; `value` is the plaintext (not a field)."""

    class Meta:
        model = ProjectSecret

    class Params:
        value = "factory-secret-value-0123456789"

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"SECRET_{n}")
    ciphertext = factory.LazyAttribute(lambda o: encryption.encrypt(o.value))


def transform_definition() -> dict:
    """A valid three-step transform chain: greet -> shout -> count, with a rendered output."""
    return {
        "steps": [
            {"id": "greet", "type": "transform", "config": {"value": {"message": "Hello {{ input.name }}"}}},
            {
                "id": "shout",
                "type": "transform",
                "depends_on": ["greet"],
                "config": {"value": "{{ steps.greet.output.message | upper }}"},
            },
            {
                "id": "count",
                "type": "transform",
                "depends_on": ["shout"],
                "config": {"value": "{{ steps.shout.output | length }}"},
            },
        ],
        "output": {"greeting": "{{ steps.shout.output }}", "length": "{{ steps.count.output }}"},
    }


class WorkflowFactory(factory.django.DjangoModelFactory):
    """A workflow with its version 1 (as workflows.services.workflow_create leaves it)."""

    class Meta:
        model = Workflow
        skip_postgeneration_save = True

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Workflow {n}")
    definition = factory.LazyFunction(transform_definition)
    version = 1

    @factory.post_generation
    def _version(obj, create, extracted, **kwargs):
        if create:
            WorkflowVersion.objects.create(workflow=obj, version=obj.version, definition=obj.definition)


# --- Delegated credentials (identity app), for any test that needs a token principal -----------------------------
# e.g. a read-only token: bearer_client(api_token(user, "read")); a token bound to another project:
# bearer_client(api_token(user, "write", project=other_project)); an OAuth2 client's token:
# bearer_client(oauth_access_token(*oauth_client(project, admin), scope="read write")).


def api_token(user, scope: str = "write", project=None, *, expires_in_days: int | None = None) -> str:
    """A personal API token (`aia_...`) of `user`, created by the real service; returns the token itself."""
    from identity.services import api_token_create

    _, raw = api_token_create(
        user=user,
        name=f"test {scope} token",
        scope=scope,
        project_id=project.pk if project is not None else None,
        expires_in_days=expires_in_days,
    )
    return raw


def oauth_client(project, admin, scope: str = "write"):
    """A project OAuth2 client created by `admin` (an owner or admin of `project`); returns (client_id, secret)."""
    from identity.services import oauth_client_create
    from projects.models import Membership

    role = Membership.objects.get(project=project, user=admin).role
    client, secret = oauth_client_create(project=project, role=role, actor=admin, name="test client", scope=scope)
    return client.application.client_id, secret


def oauth_access_token(client_id: str, secret: str, scope: str = "read") -> str:
    """An access token (`aio_...`) from the real /o/token/ (client credentials, HTTP Basic), in-process."""
    import base64

    from django.test import Client

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = Client().post(
        "/o/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def bearer_client(token: str):
    """An APIClient that sends `Authorization: Bearer <token>` (a JWT, an API token or an OAuth2 token)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
