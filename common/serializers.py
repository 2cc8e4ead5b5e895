"""Input fields that take exactly the JSON types the OpenAPI schema says."""

from rest_framework import serializers


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
