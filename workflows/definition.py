"""Validation of workflow definitions, and the dependency order in which their steps run.

Shape: ``{"steps": [{"id", "type", "config", "depends_on"?, "retry"?, "timeout_seconds"?}], "output"?: any}``,
described by the JSON Schema in workflows.definition_schema, which runs first; then come the checks a schema
cannot express: unique ids, dependencies that exist and form no cycle, each step type's config, templates.
Errors are keyed by JSON path relative to the definition (``steps[1].depends_on[0]``, ``output.answer``);
problems with the definition as a whole use the path ``$``.
"""

import math
from graphlib import CycleError, TopologicalSorter

from projects.models import SECRET_NAME
from workflows import definition_schema, templating
from workflows.definition_schema import STEP_ID
from workflows.steps import REGISTRY
from workflows.templating.analysis import SECRETS

ROOT = "$"
# The report lists problems in this order, whoever found them: the shape of the definition and of each step, step
# by step (each step's fields, then its config, then the uniqueness of its id); dependencies; cycles; templates.
SHAPE, DEPENDENCIES, CYCLES, TEMPLATES = range(4)


class DefinitionError(Exception):
    """A definition is invalid; ``errors`` maps JSON paths to messages, every problem found."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items()))


class _Errors:
    """Problems as they are found, each with where it sorts in the report (ties keep the order found)."""

    def __init__(self) -> None:
        self._found: list[tuple[tuple, str, str]] = []

    def add(self, order: tuple, path: str, message: str) -> None:
        self._found.append((order, path, message))

    def merge(self, order: tuple, errors: dict[str, list[str]], prefix: str = "") -> None:
        for path, messages in errors.items():
            for message in messages:
                self.add(order, f"{prefix}.{path}" if prefix else path, message)

    def report(self) -> dict[str, list[str]]:
        report: dict[str, list[str]] = {}
        for _, path, message in sorted(self._found, key=lambda found: found[0]):
            report.setdefault(path, []).append(message)
        return report


def _path(location: tuple[str | int, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path:
            path += f".{part}"
        else:
            path = part
    return path or ROOT


def _order(location: tuple[str | int, ...]) -> tuple:
    """A shape error sorts with its step's fields, or with the dependency checks when it is in depends_on."""
    if len(location) > 2 and location[0] == "steps" and location[2] == "depends_on":
        return (DEPENDENCIES, location[1], *location[3:])
    return (SHAPE, *definition_schema.position(location))


def _check_shape(definition, errors: _Errors) -> bool:
    """Report what the schema finds; False when the steps list itself is refused (none of its steps is checked)."""
    for error in definition_schema.shape_errors(definition):
        errors.add(_order(error.location), _path(error.location), error.message)
        if error.location == ("steps",):
            # The schema looks at steps last, and at a list before its items: all that could follow is errors of
            # steps that are not checked, so do not walk them (an oversized list may hold thousands).
            return False
    return True


def _check_config(step: dict, index: int, errors: _Errors) -> None:
    """What the schema cannot check in a step's config: its step type's rules, its templates' syntax."""
    path, config = f"steps[{index}]", step["config"]
    order = (SHAPE, *definition_schema.position(("steps", index, "config")))  # with the schema's errors there
    step_type = REGISTRY.get(step["type"]) if isinstance(step.get("type"), str) else None
    if step_type is not None and isinstance(config, dict):  # a config that is not an object: the schema said so
        errors.merge(order, step_type.validate_config(config), prefix=path)
    errors.merge(order, templating.syntax_errors(config, f"{path}.config"))


def _check_dependencies(steps: list, ids: dict[str, int], errors: _Errors) -> dict[str, list[str]]:
    """Check depends_on targets; return the graph of valid edges (step id -> ids it depends on)."""
    graph: dict[str, list[str]] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        step_id = step.get("id")
        own = step_id if isinstance(step_id, str) and ids.get(step_id) == index else None
        depends_on = step.get("depends_on", [])
        edges: list[str] = []
        for position, dependency in enumerate(depends_on if isinstance(depends_on, list) else []):
            order, item_path = (DEPENDENCIES, index, position), f"steps[{index}].depends_on[{position}]"
            if not isinstance(dependency, str):
                continue  # the schema has reported it
            if dependency == step_id:
                errors.add(order, item_path, "a step cannot depend on itself")
            elif dependency not in ids:
                errors.add(order, item_path, f"unknown step {dependency!r}")
            elif dependency in edges:
                errors.add(order, item_path, f"{dependency!r} is listed twice")
            else:
                edges.append(dependency)
        if own is not None:
            graph[own] = edges
    return graph


def _find_cycles(graph: dict[str, list[str]], order: dict[str, int]) -> list[list[str]]:
    """Each distinct dependency cycle once: its step ids in dependency order, from the step defined first.

    graphlib reports one cycle at a time: drop the edge that closes it and ask again, until none is left.
    """
    remaining = {node: list(dependencies) for node, dependencies in graph.items()}
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    while True:
        try:
            TopologicalSorter(remaining).prepare()
        except CycleError as exc:
            # graphlib lists each node before the ones that depend on it, the first node again at the end.
            found = list(reversed(exc.args[1][1:]))
            start = min(range(len(found)), key=lambda position: order[found[position]])
            cycle = found[start:] + found[:start]
            if frozenset(cycle) not in seen:
                seen.add(frozenset(cycle))
                cycles.append(cycle)
            remaining[cycle[-1]].remove(cycle[0])
        else:
            return cycles


def _ancestors(graph: dict[str, list[str]]) -> dict[str, set[str]]:
    """Transitive dependencies of each step (graph must be acyclic)."""
    found: dict[str, set[str]] = {}
    for node in TopologicalSorter(graph).static_order():  # dependencies come before their dependents
        found[node] = set()
        for dependency in graph.get(node, []):
            found[node] |= {dependency} | found[dependency]
    return found


def _check_references(
    value, path: str, visible: set[str] | None, known: set[str], errors: _Errors, where: str, *, secrets: bool
):
    """Templates may read only input/steps/execution/project (and, in step configs, secrets named literally), and
    only steps that will have finished."""
    available = (*templating.CONTEXT_KEYS, SECRETS) if secrets else templating.CONTEXT_KEYS
    for string_path, refs in templating.references(value, path).items():
        for name in sorted(refs.names - set(available)):
            if name == SECRETS:
                errors.add((TEMPLATES,), string_path, "project secrets can be used in step configs only")
                continue
            errors.add((TEMPLATES,), string_path, f"unknown variable {name!r}; available: {', '.join(available)}")
        if secrets and SECRETS in refs.names:
            if refs.secrets_dynamic:
                errors.add(
                    (TEMPLATES,),
                    string_path,
                    "name each project secret literally ({{ secrets.NAME }}): only the secrets a step names are "
                    "decrypted for it",
                )
            for name in sorted(refs.secret_names):
                if not SECRET_NAME.match(name):
                    errors.add((TEMPLATES,), string_path, f"secrets.{name} is not a valid secret name (A-Z, 0-9, _)")
        if refs.steps_shadowed:
            continue
        for step_id in sorted(refs.step_ids):
            if step_id not in known:
                errors.add((TEMPLATES,), string_path, f"steps.{step_id} refers to an unknown step")
            elif visible is not None and step_id not in visible:
                errors.add(
                    (TEMPLATES,),
                    string_path,
                    f"steps.{step_id} is not a dependency of {where}: add it to depends_on (directly or through "
                    "another dependency)",
                )


def secret_references(definition: dict) -> dict[str, list[str]]:
    """The project secrets a (valid) definition names: {name: [JSON paths of the templates naming it]}."""
    found: dict[str, list[str]] = {}
    for index, step in enumerate(definition.get("steps", [])):
        for string_path, refs in templating.references(step.get("config", {}), f"steps[{index}].config").items():
            for name in sorted(refs.secret_names):
                found.setdefault(name, []).append(string_path)
    return found


def step_secret_names(step: dict) -> set[str]:
    """The project secrets one step's config names (what the runner decrypts for it)."""
    names: set[str] = set()
    for refs in templating.references(step.get("config", {}), "config").values():
        names |= refs.secret_names
    return names


def validate_definition(definition) -> None:
    """Raise DefinitionError listing every problem in ``definition``; return None when it is valid."""
    errors = _Errors()
    steps_checked = _check_shape(definition, errors)
    if not isinstance(definition, dict):
        raise DefinitionError(errors.report())
    steps = definition["steps"] if steps_checked else []

    ids: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue  # the schema has reported it
        if "config" in step:
            _check_config(step, index, errors)
        step_id = step.get("id")
        if isinstance(step_id, str) and STEP_ID.match(step_id):
            if step_id in ids:
                after_its_fields = (SHAPE, *definition_schema.position(("steps", index)), math.inf)
                errors.add(
                    after_its_fields, f"steps[{index}].id", f"duplicate id {step_id!r} (also steps[{ids[step_id]}])"
                )
            else:
                ids[step_id] = index

    graph = _check_dependencies(steps, ids, errors)
    cycles = _find_cycles(graph, ids)
    for cycle in cycles:
        errors.add(
            (CYCLES,), f"steps[{ids[cycle[0]]}].depends_on", f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}"
        )

    known = set(ids)
    ancestors = _ancestors(graph) if not cycles else None
    for index, step in enumerate(steps):
        if isinstance(step, dict) and "config" in step:
            step_id = step.get("id")
            visible = None
            if ancestors is not None and isinstance(step_id, str) and ids.get(step_id) == index:
                visible = ancestors[step_id]
            elif ancestors is not None:
                visible = set()  # a step without a usable id has no dependencies that can be trusted
            _check_references(
                step["config"], f"steps[{index}].config", visible, known, errors, f"step {step_id!r}", secrets=True
            )
    if "output" in definition:
        errors.merge((TEMPLATES,), templating.syntax_errors(definition["output"], "output"))
        _check_references(definition["output"], "output", None, known, errors, "the output", secrets=False)

    report = errors.report()
    if report:
        raise DefinitionError(report)


def step_levels(definition: dict) -> list[list[dict]]:
    """Steps grouped so that each level depends only on earlier levels (definition order within a level).

    Call only on a definition that validate_definition accepted.
    """
    steps = {step["id"]: step for step in definition["steps"]}
    sorter = TopologicalSorter({step_id: step.get("depends_on", []) for step_id, step in steps.items()})
    try:
        sorter.prepare()
    except CycleError:
        raise ValueError("the definition has a dependency cycle: validate it first") from None
    levels: list[list[dict]] = []
    while sorter.is_active():
        ready = sorter.get_ready()  # every step whose dependencies are all in earlier levels
        levels.append([step for step_id, step in steps.items() if step_id in ready])
        sorter.done(*ready)
    return levels
