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

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from workflows.templating import limits

CONTEXT_KEYS = ("input", "steps", "execution", "project")
# Caps against template bombs ({{ 'a' * 10**10 }}, loops that print megabytes, endless nested loops); the caps of
# filters and operators are in workflows.templating.limits.
MAX_RENDERED_CHARS = limits.MAX_RENDERED_CHARS
MAX_RANGE = 10_000
MAX_RENDER_SECONDS = 5.0  # the default; the renderer process uses settings.TEMPLATE_TIMEOUT_SECONDS
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
    seconds: float = MAX_RENDER_SECONDS

    def check(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TemplateRenderError(f"template took longer than {self.seconds:g} seconds to render")


render_deadline = _Deadline()


def _bounded_range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    for item in values:
        render_deadline.check()
        yield item


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, except that ``a ~ b`` goes through the sandbox's capped ``concat``."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _WorkflowSandbox(SandboxedEnvironment):
    """The sandbox, plus limits on the operators, methods and concatenations that can allocate without bound."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context, operator, left, right):
        render_deadline.check()
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def concat(self, values):
        render_deadline.check()
        return limits.concat(values)

    def getattr(self, obj, attribute):
        render_deadline.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        render_deadline.check()
        return super().getitem(obj, argument)

    def call(self, __context, __obj, *args, **kwargs):
        render_deadline.check()
        limits.check_string_method(__obj, args, kwargs)
        return limits.check_result("call", super().call(__context, __obj, *args, **kwargs))


# Globals templates may call: Jinja's, minus lipsum (its arguments are unbounded), with a bounded range.
_ALLOWED_GLOBALS = ("dict", "namespace", "cycler", "joiner")


def _make_environment() -> SandboxedEnvironment:
    # optimized=False: Jinja's optimizer folds constant expressions at compile time, through the filters and
    # ``~`` without any of the checks here (``{{ ''|center(10**10) }}`` would run while compiling).
    env = _WorkflowSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, optimized=False)
    env.filters = limits.allowed_filters(_tojson)
    env.globals = {name: env.globals[name] for name in _ALLOWED_GLOBALS} | {"range": _bounded_range}
    return env


ENV = _make_environment()


class _RendererProcess:
    """Whether this process is a renderer (workflows.templating.child): the only place templates are compiled."""

    active = False


renderer_process = _RendererProcess()


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
    """The template's syntax tree (cached); raises TemplateSyntaxError (also for a template nested too deeply)."""
    try:
        return ENV.parse(source)
    except RecursionError:
        raise TemplateSyntaxError("the template is nested too deeply", 1) from None


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
    """The source compiled in the sandbox (cached); raises TemplateSyntaxError. Only in a renderer process."""
    if not renderer_process.active:
        raise RuntimeError("templates are compiled and rendered only in a renderer process (templating.isolation)")
    ast = parse(source.strip())
    expr = _single_expression(ast)
    if expr is not None:
        # What Environment.compile_expression does, starting from the parsed node instead of its text.
        body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
        body.set_environment(ENV)
        return Compiled(ENV.from_string(body), True, ast)
    return Compiled(ENV.from_string(parse(source)), False, parse(source))
