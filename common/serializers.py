"""Input fields that take exactly the JSON types the OpenAPI schema says, and a fast output of plain columns."""

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings


class StringOnly:
    """A string field that takes a JSON string only: DRF's CharField also takes numbers (`0` becomes `"0"`), which
    the schema's `type: string` refuses (found by schemathesis: `{"full_name": 0}` answered 200)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(StringOnly, serializers.CharField):
    """CharField for input: strings only."""


class StrictEmailField(StringOnly, serializers.EmailField):
    """EmailField for input: strings only."""


class StrictSlugField(StringOnly, serializers.SlugField):
    """SlugField for input: strings only."""


class StrictBooleanField(serializers.BooleanField):
    """BooleanField for input: JSON true or false only. DRF's also takes `0`, `1`, `"yes"`..., which the schema's
    `type: boolean` refuses (found by schemathesis: a workflow PATCH with `{"is_active": 0}` was accepted)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ColumnOutputMixin:
    """A read-only serializer of plain columns, for the lists every client polls: DRF's JSON, without its per-row
    field machinery.

    A ModelSerializer builds its fields again for every serializer (the model's field mapping, then a deepcopy) and
    calls two methods per field per row: about 1.4 ms for a page of 20 projects, a seventh of the request's server
    CPU (bench/README.md, issue 13 goal 1). This mixin reads the fields once per class and turns each into one
    conversion: `str` for strings and UUIDs, `int`, the choice map of a choice field, ISO 8601 in the current time
    zone for datetimes (DRF's own method for anything unusual, a naive datetime say). The JSON is the same:
    tests/common/test_serializers.py compares it with DRF's for each serializer that uses the mixin. A field of
    any other kind (nested, method, dotted source, a default, a datetime format of its own) raises
    ImproperlyConfigured when the class is first used, rather than giving a different answer.
    """

    _column_plan: tuple  # set on each class that uses the mixin, the first time it is used

    @classmethod
    def column_plan(cls) -> tuple:
        """(name, source, conversion, whether the conversion takes the time zone) for each field."""
        plan = cls.__dict__.get("_column_plan")
        if plan is None:
            fields = cls().fields.values()  # type: ignore[attr-defined]  # mixed into a Serializer
            plan = tuple((field.field_name, field.source, *_conversion(cls, field)) for field in fields)
            cls._column_plan = plan
        return plan

    def to_representation(self, instance):
        zone = timezone.get_current_timezone()  # a context-local read: once per row, not once per datetime
        row = {}
        for name, source, convert, zoned in self.column_plan():
            value = getattr(instance, source)
            row[name] = None if value is None else convert(value, zone) if zoned else convert(value)
        return row


def _conversion(serializer_class, field) -> tuple:
    method = type(field).to_representation
    if len(field.source_attrs) != 1 or field.default is not serializers.empty or field.write_only:
        method = None
    if method is serializers.CharField.to_representation:
        return str, False
    if method is serializers.IntegerField.to_representation:
        return int, False
    if method is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str, False
    if method is serializers.ChoiceField.to_representation:
        choices = field.choice_strings_to_values
        return (lambda value: value if value == "" else choices.get(str(value), value)), False
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if (
        method is serializers.DateTimeField.to_representation
        and isinstance(output_format, str)
        and output_format.lower() == ISO_8601
        and not hasattr(field, "timezone")
    ):
        return (lambda value, zone: _iso_datetime(value, zone, field)), True
    raise ImproperlyConfigured(
        f"{serializer_class.__name__}.{field.field_name}: ColumnOutputMixin takes plain columns only "
        f"({type(field).__name__} with source {field.source!r} is not one)"
    )


def _iso_datetime(value, zone, field) -> str:
    if not getattr(value, "tzinfo", None):  # naive, or a date or string: DRF's own rules
        return field.to_representation(value)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
