"""Static checks of templates at definition time: syntax errors, and what each template reads from its context.

Project secrets (``secrets.NAME``) are found here too: the runner decrypts only the secrets a step names, so a
template must name each one literally (``secrets.API_TOKEN`` or ``secrets["API_TOKEN"]``, never ``secrets[x]``).
"""

from dataclasses import dataclass, field, replace
from functools import lru_cache

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
    secret_names: set[str] = field(default_factory=set)
    secrets_dynamic: bool = False  # "secrets" used otherwise than by a literal name (secrets[x], the whole mapping)


# The context key of project secrets: given to step configs only, by the runner (workflows.runner).
SECRETS = "secrets"


def _named(node, name: str) -> str | None:
    """``name.attr`` or ``name["key"]`` -> the attribute or key; None for anything else."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == name:
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and node.node.name == name
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None


def _step_id_of(node) -> str | None:
    return _named(node, "steps")


def references(value, path: str) -> dict[str, TemplateReferences]:
    """For every template string inside ``value`` (syntax errors skipped), what it reads, by JSON path."""
    found: dict[str, TemplateReferences] = {}
    for string_path, source in _walk_strings(value, path):
        if is_template(source):
            refs = _source_references(source)
            if refs is not None:
                # A copy: the cached one stays as it is whatever the caller does with it.
                found[string_path] = replace(
                    refs, names=set(refs.names), step_ids=set(refs.step_ids), secret_names=set(refs.secret_names)
                )
    return found


@lru_cache(maxsize=1024)
def _source_references(source: str) -> TemplateReferences | None:
    """What one template reads (cached: Jinja's analysis runs its code generator, a few ms for a workflow's
    templates, which the runner asks again for every execution); None for a syntax error."""
    from jinja2 import meta

    try:
        ast = parse(source)
    except TemplateSyntaxError:
        return None
    refs = TemplateReferences(names=set(meta.find_undeclared_variables(ast)) - set(ENV.globals))
    refs.steps_shadowed = any(name.name == "steps" for name in ast.find_all(nodes.Name) if name.ctx != "load")
    secret_lookups = 0
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        step_id = _step_id_of(node)
        if step_id is not None:
            refs.step_ids.add(step_id)
        secret = _named(node, SECRETS)
        if secret is not None:
            refs.secret_names.add(secret)
            secret_lookups += 1
    if SECRETS in refs.names:
        loads = sum(1 for name in ast.find_all(nodes.Name) if name.name == SECRETS and name.ctx == "load")
        refs.secrets_dynamic = loads > secret_lookups
    return refs
