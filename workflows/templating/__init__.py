"""Jinja2 templating for workflow definitions: sandboxed, strict, typed for single expressions.

Context keys: ``input``, ``steps`` (``steps.<id>.output``), ``execution`` (id, started_at), ``project`` (id, slug).
A string that is exactly one ``{{ expression }}`` renders to the expression's JSON value (object, list, number,
bool, null); any other string renders to a string.

sandbox: the environment, its limits and the per-render deadline; analysis: static checks at definition time;
render: rendering to JSON values.
"""

from workflows.templating.analysis import TemplateReferences, references, syntax_errors
from workflows.templating.render import render, render_chain
from workflows.templating.sandbox import (
    CONTEXT_KEYS,
    ENV,
    MAX_RANGE,
    MAX_RENDER_SECONDS,
    MAX_RENDERED_CHARS,
    TemplateRenderError,
    is_template,
    join_path,
)

__all__ = [
    "CONTEXT_KEYS",
    "ENV",
    "MAX_RANGE",
    "MAX_RENDERED_CHARS",
    "MAX_RENDER_SECONDS",
    "TemplateReferences",
    "TemplateRenderError",
    "is_template",
    "join_path",
    "references",
    "render",
    "render_chain",
    "syntax_errors",
]
