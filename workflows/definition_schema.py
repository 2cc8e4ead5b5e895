"""The shape of a workflow definition as one JSON Schema (draft 2020-12), and its errors in the API's words.

Each constraint carries its message under the vendor keyword ``x-messages`` (keyword -> message, where
``{value}`` stands for the offending value and ``{count}`` for its length); ``required`` and
``additionalProperties`` have one generic message each, reported at the missing or unknown key.
workflows.definition runs this schema first, then the checks a schema cannot express. The API publishes it
(``GET /api/v1/workflows/definition-schema/`` and the OpenAPI document).
"""

import math
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, validators

from workflows.steps import REGISTRY

MAX_STEPS = 50
STEP_ID = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
MESSAGES = "x-messages"


def _bounded(low: int, high: int, *, integer: bool = False) -> dict:
    between = f"must be between {low} and {high}"
    return {
        "type": "integer" if integer else "number",
        "minimum": low,
        "maximum": high,
        MESSAGES: {
            "type": "must be an integer" if integer else "must be a number",
            "minimum": between,
            "maximum": between,
        },
    }


# The properties are listed in the order their errors are reported.
_STEP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type", "config"],
    "properties": {
        "id": {
            "description": "Unique in the definition; depends_on lists and templates (steps.<id>.output) name it.",
            "type": "string",
            "pattern": STEP_ID.pattern,
            MESSAGES: dict.fromkeys(
                ("type", "pattern"), "must be 1 to 64 letters, digits, '_' or '-', starting with a letter or '_'"
            ),
        },
        "type": {
            "enum": sorted(REGISTRY),
            MESSAGES: {"enum": f"unknown step type {{value}}; known: {', '.join(sorted(REGISTRY))}"},
        },
        "config": {
            "description": "The step type's settings; strings may be templates.",
            "type": "object",
            MESSAGES: {"type": "must be an object"},
        },
        "depends_on": {
            "description": "Ids of the steps that must finish first.",
            "type": "array",
            "items": {"type": "string", MESSAGES: {"type": "must be a step id (string)"}},
            MESSAGES: {"type": "must be a list of step ids"},
        },
        "retry": {
            "description": "Retries of retryable failures, with exponential backoff; default: the step type's.",
            "type": "object",
            "additionalProperties": False,
            "required": ["max_attempts", "backoff_seconds"],
            "properties": {"max_attempts": _bounded(1, 10, integer=True), "backoff_seconds": _bounded(0, 300)},
            MESSAGES: {"type": "must be an object with max_attempts and backoff_seconds"},
        },
        "timeout_seconds": _bounded(1, 300),
    },
    MESSAGES: {"type": "must be an object"},
}

DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Workflow definition",
    "description": "Steps run once their dependencies have finished; strings in config and output are templates.",
    "type": "object",
    "additionalProperties": False,
    "required": ["steps"],
    # The last keyword that checks, and output has no constraint: steps is checked last (definition._check_shape).
    "properties": {
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_STEPS,
            "items": _STEP,
            MESSAGES: {
                "type": "must be a list",
                "minItems": "must contain at least one step",
                "maxItems": f"at most {MAX_STEPS} steps are allowed (got {{count}})",
            },
        },
        "output": {"description": "Any JSON value, rendered once the steps have finished: the execution's output."},
    },
    MESSAGES: {"type": "must be an object with a 'steps' list"},
}


def _is_integer(checker, value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(checker, value) -> bool:
    return _is_integer(checker, value) or (isinstance(value, float) and math.isfinite(value))


# JSON Schema counts 2.0 as an integer, and NaN and Infinity (which Python's json reads) as numbers: attempts must
# be a true int, and seconds finite.
_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number}),
)
_VALIDATOR = _Validator(DEFINITION_SCHEMA)


class ShapeError(NamedTuple):
    """A definition's shape problem: where (keys and indices from the definition's root) and what."""

    location: tuple[str | int, ...]
    message: str


def shape_errors(definition) -> Iterator[ShapeError]:
    """Every shape problem of ``definition`` in the API's words, lazily, in the order the schema finds them."""
    reported_required: set[tuple] = set()
    for error in _VALIDATOR.iter_errors(definition):
        location = tuple(error.absolute_path)
        if error.validator == "required":
            # One error per missing key, which only its message names: report all of them at the first.
            if location not in reported_required:
                reported_required.add(location)
                for key in error.validator_value:
                    if key not in error.instance:
                        yield ShapeError((*location, key), "is required")
        elif error.validator == "additionalProperties":
            allowed = error.schema["properties"]
            for key in error.instance:
                if key not in allowed:
                    yield ShapeError((*location, str(key)), f"unknown key; allowed: {', '.join(sorted(allowed))}")
        else:
            template = error.schema.get(MESSAGES, {}).get(error.validator)
            if template is None:  # a constraint without its message: jsonschema's own words
                yield ShapeError(location, error.message)
                continue
            value = repr(error.instance) if "{value}" in template else None  # a long list's repr is costly
            count = len(error.instance) if isinstance(error.instance, list | dict | str) else None
            yield ShapeError(location, template.format(value=value, count=count))


def position(location: tuple[str | int, ...]) -> tuple[int, ...]:
    """Where a location sorts: unknown keys first, then the schema's properties in order, list items by index."""
    schema, found = DEFINITION_SCHEMA, []
    for part in location:
        if isinstance(part, int):
            found.append(part)
            schema = schema.get("items", {})
        else:
            properties = list(schema.get("properties", {}))
            found.append(properties.index(part) if part in properties else -1)
            schema = schema.get("properties", {}).get(part, {})
    return tuple(found)


def openapi_schema() -> dict:
    """The schema as an OpenAPI 3.0 schema object, which has no ``$schema``."""
    return {key: value for key, value in DEFINITION_SCHEMA.items() if key != "$schema"}
