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
