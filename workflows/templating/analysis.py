"""Static checks of templates at definition time: syntax errors, and what each template reads from its context."""

from dataclasses import dataclass, field

from jinja2 import TemplateSyntaxError, nodes

from workflows.templating import isolation
from workflows.templating.sandbox import ENV, is_template, join_path, parse


def _walk_strings(value, path: str):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, join_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, join_path(path, index))


def syntax_errors(value, path: str) -> dict[str, list[str]]:
    """Template problems in every string inside ``value``, keyed by JSON path: syntax errors, and constant parts
    over a limit (``''|center(10**10)``). Checked in a renderer process, under its limits (templating.isolation)."""
    templates = [(string_path, source) for string_path, source in _walk_strings(value, path) if is_template(source)]
    errors: dict[str, list[str]] = {}
    for (string_path, _), message in zip(templates, isolation.check([source for _, source in templates]), strict=True):
        if message is not None:
            errors.setdefault(string_path, []).append(message)
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
            ast = parse(source)
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
