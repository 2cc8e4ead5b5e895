"""Jinja2 templating for workflow definitions: sandboxed, strict, typed for single expressions.

Context keys: ``input``, ``steps`` (``steps.<id>.output``), ``execution`` (id, started_at), ``project`` (id, slug).
A string that is exactly one ``{{ expression }}`` renders to the expression's JSON value (object, list, number,
bool, null); any other string renders to a string.
"""

import datetime
import json
import math
import re
import threading
import time
import types
from dataclasses import dataclass, field
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedEnvironment

CONTEXT_KEYS = ("input", "steps", "execution", "project")
# Caps against template bombs ({{ 'a' * 10**10 }}, loops that print megabytes, endless nested loops).
MAX_RENDERED_CHARS = 1_000_000
MAX_RANGE = 10_000
MAX_RENDER_SECONDS = 5.0
_MAX_POWER_EXPONENT = 1_000
_SOURCE_SNIPPET_CHARS = 200
_TEMPLATE_MARKERS = ("{{", "{%", "{#")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateRenderError(Exception):
    """A template could not be rendered; the message names the template and is safe to store."""


def _tojson(value, indent=None):
    # Jinja's own tojson escapes <, >, & and ' for HTML; these templates build JSON and plain text, not HTML.
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise TemplateRenderError(f"tojson: value is not JSON-serialisable ({exc})") from None


class _Deadline(threading.local):
    """Per-render wall-clock budget (per thread), checked by the sandbox hooks that templates go through."""

    deadline: float | None = None

    def check(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TemplateRenderError(f"template took longer than {MAX_RENDER_SECONDS:g} seconds to render")


_deadline = _Deadline()


def _bounded_range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    for item in values:
        _deadline.check()
        yield item


def _size(value) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


class _WorkflowSandbox(SandboxedEnvironment):
    """The sandbox, plus limits on the operators that can allocate without bound."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        _deadline.check()
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                length = _size(sequence)
                if length is not None and isinstance(count, int) and length * count > MAX_RENDERED_CHARS:
                    raise SecurityError(f"repetition would exceed {MAX_RENDERED_CHARS} items")
        if operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_POWER_EXPONENT:
            raise SecurityError(f"exponent larger than {_MAX_POWER_EXPONENT}")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj, attribute):
        _deadline.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _deadline.check()
        return super().getitem(obj, argument)

    def call(self, __context, __obj, *args, **kwargs):
        _deadline.check()
        return super().call(__context, __obj, *args, **kwargs)


def _make_environment() -> SandboxedEnvironment:
    env = _WorkflowSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["tojson"] = _tojson
    env.globals["range"] = _bounded_range
    return env


ENV = _make_environment()


def is_template(value) -> bool:
    """Whether a string contains template markup (and so is only known after rendering)."""
    return isinstance(value, str) and any(marker in value for marker in _TEMPLATE_MARKERS)


def join_path(path: str, key) -> str:
    """Extend a JSON path: ``steps`` + 0 -> ``steps[0]``, ``config`` + ``url`` -> ``config.url``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _walk_strings(value, path: str):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, join_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, join_path(path, index))


@lru_cache(maxsize=1024)
def _parse(source: str) -> nodes.Template:
    return ENV.parse(source)


def _single_expression(ast: nodes.Template) -> nodes.Expr | None:
    if len(ast.body) == 1 and isinstance(ast.body[0], nodes.Output) and len(ast.body[0].nodes) == 1:
        expr = ast.body[0].nodes[0]
        if not isinstance(expr, nodes.TemplateData):
            return expr
    return None


@dataclass(frozen=True)
class _Compiled:
    template: Template
    is_expression: bool
    ast: nodes.Template = field(repr=False)


@lru_cache(maxsize=1024)
def _compile(source: str) -> _Compiled:
    ast = _parse(source.strip())
    expr = _single_expression(ast)
    if expr is not None:
        # What Environment.compile_expression does, starting from the parsed node instead of its text.
        body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
        body.set_environment(ENV)
        return _Compiled(ENV.from_string(body), True, ast)
    return _Compiled(ENV.from_string(_parse(source)), False, _parse(source))


def syntax_errors(value, path: str) -> dict[str, list[str]]:
    """Template syntax problems in every string inside ``value``, keyed by JSON path."""
    errors: dict[str, list[str]] = {}
    for string_path, source in _walk_strings(value, path):
        if not is_template(source):
            continue
        try:
            _compile(source)
        except TemplateSyntaxError as exc:
            errors.setdefault(string_path, []).append(f"template syntax error: {exc.message} (line {exc.lineno})")
    return errors


@dataclass
class TemplateReferences:
    """What a template reads from its context: top-level names and the step ids named statically."""

    names: set[str] = field(default_factory=set)
    step_ids: set[str] = field(default_factory=set)
    steps_shadowed: bool = False  # the template assigns "steps" itself: step references cannot be checked


def _step_id_of(node) -> str | None:
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "steps":
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "steps"
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None


def references(value, path: str) -> dict[str, TemplateReferences]:
    """For every template string inside ``value`` (syntax errors skipped), what it reads, by JSON path."""
    from jinja2 import meta

    found: dict[str, TemplateReferences] = {}
    for string_path, source in _walk_strings(value, path):
        if not is_template(source):
            continue
        try:
            ast = _parse(source)
        except TemplateSyntaxError:
            continue
        refs = TemplateReferences(names=set(meta.find_undeclared_variables(ast)) - set(ENV.globals))
        refs.steps_shadowed = any(name.name == "steps" for name in ast.find_all(nodes.Name) if name.ctx != "load")
        for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
            step_id = _step_id_of(node)
            if step_id is not None:
                refs.step_ids.add(step_id)
        found[string_path] = refs
    return found


def _snippet(source: str) -> str:
    return source if len(source) <= _SOURCE_SNIPPET_CHARS else source[:_SOURCE_SNIPPET_CHARS] + "..."


def _chain(node) -> list | None:
    """``input.user["name"]`` -> ["input", "user", "name"]; None for anything that is not a plain lookup chain."""
    if isinstance(node, nodes.Name):
        return [node.name]
    if isinstance(node, nodes.Getattr):
        head = _chain(node.node)
        return None if head is None else [*head, node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        head = _chain(node.node)
        return None if head is None else [*head, node.arg.value]
    return None


def _format_chain(chain: list) -> str:
    text = str(chain[0])
    for part in chain[1:]:
        text += f".{part}" if isinstance(part, str) and _IDENTIFIER.match(part) else f"[{json.dumps(part)}]"
    return text


def _first_missing(ast: nodes.Template, context: dict) -> str | None:
    """The first lookup chain in the template that does not resolve in the context, e.g. ``input.name``."""
    local_names = {node.name for node in ast.find_all(nodes.Name) if node.ctx != "load"}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        chain = _chain(node)
        if not chain or chain[0] in local_names or chain[0] in ENV.globals:
            continue
        current = context
        for depth, part in enumerate(chain):
            if not _has(current, part):
                return _format_chain(chain[: depth + 1])
            current = current[part]
    return None


def _has(container, key) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and -len(container) <= key < len(container)


def _to_json(value, source: str):
    """Make an expression's value JSON-compatible, or explain why it cannot be."""
    if isinstance(value, Undefined):
        raise UndefinedError(value._undefined_message)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TemplateRenderError(f"{_snippet(source)!r} produced {value}, which JSON cannot represent")
        return value
    if isinstance(value, str):
        return str(value)  # also turns Markup into a plain string
    if isinstance(value, dict):
        return {str(key): _to_json(item, source) for key, item in value.items()}
    if isinstance(value, list | tuple | types.GeneratorType):  # a generator: range(), already bounded
        return [_to_json(item, source) for item in value]
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise TemplateRenderError(f"{_snippet(source)!r} produced a {type(value).__name__}, which is not a JSON value")


def _render_string(source: str, context: dict, path: str):
    if not is_template(source):
        return source
    where = f"{path}: " if path else ""
    try:
        compiled = _compile(source)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"{where}template syntax error: {exc.message} (line {exc.lineno})") from None
    try:
        if compiled.is_expression:
            ctx = compiled.template.new_context(context)
            for _ in compiled.template.root_render_func(ctx):
                pass
            value = _to_json(ctx.vars["result"], source)
            if isinstance(value, str) and len(value) > MAX_RENDERED_CHARS:
                raise TemplateRenderError(f"{where}rendered text is longer than {MAX_RENDERED_CHARS} characters")
            return value
        chunks, length = [], 0
        for chunk in compiled.template.generate(context):
            length += len(chunk)
            if length > MAX_RENDERED_CHARS:
                raise TemplateRenderError(f"{where}rendered text is longer than {MAX_RENDERED_CHARS} characters")
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateRenderError as exc:
        message = str(exc)
        raise TemplateRenderError(message if message.startswith(where) else f"{where}{message}") from None
    except UndefinedError as exc:
        missing = _first_missing(compiled.ast, context)
        detail = f"{missing} is undefined" if missing else f"undefined value ({exc.message})"
        raise TemplateRenderError(f"{where}{detail} in {_snippet(source)!r}") from None
    except SecurityError as exc:
        raise TemplateRenderError(f"{where}refused by the template sandbox: {exc} in {_snippet(source)!r}") from None
    except TemplateError as exc:
        raise TemplateRenderError(f"{where}template error: {exc} in {_snippet(source)!r}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        # Errors raised by the expression itself (1/0, int("x"), "a" + 1): the user's template, not our bug.
        raise TemplateRenderError(
            f"{where}{type(exc).__name__}: {exc} in {_snippet(source)!r}"[: 2 * _SOURCE_SNIPPET_CHARS + 200]
        ) from None


def _render(value, context: dict, path: str):
    if isinstance(value, str):
        return _render_string(value, context, path)
    if isinstance(value, dict):
        return {key: _render(item, context, join_path(path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context, join_path(path, index)) for index, item in enumerate(value)]
    return value


def render(value, context: dict, *, path: str = ""):
    """Render every string inside ``value`` (dicts and lists recursively) against ``context``.

    Raises TemplateRenderError; ``path`` (optional) prefixes its message with where the template sits.
    """
    outer = _deadline.deadline is None
    if outer:
        _deadline.deadline = time.monotonic() + MAX_RENDER_SECONDS
    try:
        return _render(value, context, path)
    finally:
        if outer:
            _deadline.deadline = None
