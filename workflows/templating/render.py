"""Rendering templates to JSON values: a single ``{{ expression }}`` keeps its type, other strings render to text."""

import datetime
import json
import math
import time
import types
from collections.abc import Callable

from jinja2 import TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Undefined

from workflows.templating import isolation
from workflows.templating.sandbox import (
    ENV,
    IDENTIFIER,
    MAX_RENDERED_CHARS,
    TemplateRenderError,
    compile_template,
    is_template,
    join_path,
    render_deadline,
)

_SOURCE_SNIPPET_CHARS = 200


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
        text += f".{part}" if isinstance(part, str) and IDENTIFIER.match(part) else f"[{json.dumps(part)}]"
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
        compiled = compile_template(source)
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
    except RecursionError:
        raise TemplateRenderError(f"{where}template recursed too deeply in {_snippet(source)!r}") from None
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


def _has_template(value) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return False


def render(value, context: dict, *, path: str = "", on_wait: Callable[[], object] | None = None):
    """Render every string inside ``value`` (dicts and lists recursively) against ``context``.

    Raises TemplateRenderError; ``path`` (optional) prefixes its message with where the template sits. The
    templates are rendered in a renderer process under memory, CPU and time limits (templating.isolation);
    ``on_wait`` (optional) is called about every quarter of a second while it works (the runner's heartbeat).
    A value without templates is copied here.
    """
    if not _has_template(value):
        return _render(value, context, path)
    return isolation.render(value, context, path=path, on_wait=on_wait)


def render_chain(items: list[dict], context: dict, *, on_wait: Callable[[], object] | None = None) -> list:
    """The renders of several values in one renderer round trip, each item seeing the ones before it bound as
    ``steps.<bind>.output`` (isolation.render_chain): the rendered values of the items before the first that
    failed. Nothing is sent when fewer than two items hold a template: ``render`` costs them no more.
    """
    if sum(_has_template(item["value"]) for item in items) < 2:
        return []
    return isolation.render_chain(items, context, on_wait=on_wait)


def render_in_process(value, context: dict, *, path: str = ""):
    """``render`` in this very process, without its limits: only for the renderer process (templating.child)."""
    outer = render_deadline.deadline is None
    if outer:
        render_deadline.deadline = time.monotonic() + render_deadline.seconds
    try:
        return _render(value, context, path)
    finally:
        if outer:
            render_deadline.deadline = None
