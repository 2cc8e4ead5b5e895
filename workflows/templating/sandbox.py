"""The sandboxed Jinja2 environment every workflow template runs in, its limits, and the per-render deadline.

Also how a template string is recognised, parsed and compiled in that environment, and how JSON paths are
written: the static checks (analysis) and rendering (render) share them.
"""

import json
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

CONTEXT_KEYS = ("input", "steps", "execution", "project")
# Caps against template bombs ({{ 'a' * 10**10 }}, loops that print megabytes, endless nested loops).
MAX_RENDERED_CHARS = 1_000_000
MAX_RANGE = 10_000
MAX_RENDER_SECONDS = 5.0
_MAX_POWER_EXPONENT = 1_000
_TEMPLATE_MARKERS = ("{{", "{%", "{#")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


render_deadline = _Deadline()


def _bounded_range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    for item in values:
        render_deadline.check()
        yield item


def _size(value) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


class _WorkflowSandbox(SandboxedEnvironment):
    """The sandbox, plus limits on the operators that can allocate without bound."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        render_deadline.check()
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                length = _size(sequence)
                if length is not None and isinstance(count, int) and length * count > MAX_RENDERED_CHARS:
                    raise SecurityError(f"repetition would exceed {MAX_RENDERED_CHARS} items")
        if operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_POWER_EXPONENT:
            raise SecurityError(f"exponent larger than {_MAX_POWER_EXPONENT}")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj, attribute):
        render_deadline.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        render_deadline.check()
        return super().getitem(obj, argument)

    def call(self, __context, __obj, *args, **kwargs):
        render_deadline.check()
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
    if IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


@lru_cache(maxsize=1024)
def parse(source: str) -> nodes.Template:
    """The template's syntax tree (cached); raises TemplateSyntaxError."""
    return ENV.parse(source)


def _single_expression(ast: nodes.Template) -> nodes.Expr | None:
    if len(ast.body) == 1 and isinstance(ast.body[0], nodes.Output) and len(ast.body[0].nodes) == 1:
        expr = ast.body[0].nodes[0]
        if not isinstance(expr, nodes.TemplateData):
            return expr
    return None


@dataclass(frozen=True)
class Compiled:
    """A compiled template; ``is_expression`` when the source is exactly one ``{{ expression }}``."""

    template: Template
    is_expression: bool
    ast: nodes.Template = field(repr=False)


@lru_cache(maxsize=1024)
def compile_template(source: str) -> Compiled:
    """The source compiled in the sandbox (cached); raises TemplateSyntaxError."""
    ast = parse(source.strip())
    expr = _single_expression(ast)
    if expr is not None:
        # What Environment.compile_expression does, starting from the parsed node instead of its text.
        body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
        body.set_environment(ENV)
        return Compiled(ENV.from_string(body), True, ast)
    return Compiled(ENV.from_string(parse(source)), False, parse(source))
