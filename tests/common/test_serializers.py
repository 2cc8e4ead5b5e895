"""common.serializers.ColumnOutputMixin gives DRF's own JSON, and refuses the fields it cannot convert."""

import datetime
import json
import zoneinfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from common.serializers import ColumnOutputMixin
from projects.api.serializers import ProjectOutputSerializer
from projects.models import Project, Role
from projects.selectors import project_list
from tests.factories import MembershipFactory

COLUMN_SERIALIZERS = [ProjectOutputSerializer]


def drf_json(serializer_class, instances) -> bytes:
    """What DRF's Serializer.to_representation renders for these instances, the mixin bypassed."""
    serializer = serializer_class()
    rows = [serializers.Serializer.to_representation(serializer, instance) for instance in instances]
    return JSONRenderer().render(rows)


def project(**values) -> Project:
    instance = Project(**{"name": "Name", "slug": "name", "description": "", **values})
    instance.role = Role.OWNER  # an enum member, as a service sets it
    return instance


@pytest.mark.django_db
@pytest.mark.parametrize("serializer_class", COLUMN_SERIALIZERS)
def test_a_page_from_the_database_is_the_json_drf_gives(serializer_class):
    user = MembershipFactory(role=Role.VIEWER).user
    MembershipFactory.create_batch(3, user=user, role=Role.EDITOR)
    rows = list(project_list(user=user))

    assert JSONRenderer().render(serializer_class(rows, many=True).data) == drf_json(serializer_class, rows)


@pytest.mark.parametrize(
    "values",
    [
        {"created_at": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)},
        {"created_at": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata"))},
        {"created_at": datetime.datetime(2026, 1, 2, 3, 4, 5)},  # noqa: DTZ001  # naive: DRF's own rule
        {"created_at": None, "updated_at": None, "description": None},
    ],
)
def test_edge_values_are_the_json_drf_gives(values):
    rows = [project(**values)]

    assert JSONRenderer().render(ProjectOutputSerializer(rows, many=True).data) == drf_json(
        ProjectOutputSerializer, rows
    )


def test_the_active_time_zone_is_followed_as_drf_follows_it():
    rows = [project(created_at=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))]

    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        ours = JSONRenderer().render(ProjectOutputSerializer(rows, many=True).data)
        assert ours == drf_json(ProjectOutputSerializer, rows)
    assert json.loads(ours)[0]["created_at"] == "2026-01-01T22:04:05-05:00"


@pytest.mark.parametrize(
    "field",
    [
        serializers.SerializerMethodField(),
        serializers.CharField(source="created_by.email"),
        serializers.CharField(default="x"),
        serializers.DateTimeField(format="%Y"),
        serializers.DateTimeField(format=None),
        serializers.JSONField(),
    ],
)
def test_a_field_that_is_not_a_plain_column_is_refused_when_the_class_is_first_used(field):
    class Output(ColumnOutputMixin, serializers.ModelSerializer):
        extra = field

        class Meta:
            model = Project
            fields = ["id", "extra"]

        def get_extra(self, obj):  # for the method field
            return 1

    with pytest.raises(ImproperlyConfigured, match=r"Output\.extra: ColumnOutputMixin takes plain columns only"):
        Output([project()], many=True).data  # noqa: B018


def test_the_plan_is_built_once_per_class():
    rows = [project()]
    ProjectOutputSerializer(rows, many=True).data  # noqa: B018
    plan = ProjectOutputSerializer.column_plan()

    ProjectOutputSerializer(rows, many=True).data  # noqa: B018
    assert ProjectOutputSerializer.column_plan() is plan
    assert [name for name, *_ in plan] == list(ProjectOutputSerializer().fields)
