"""Validation of workflow definitions, and the dependency order in which their steps run.

Shape: ``{"steps": [{"id", "type", "config", "depends_on"?, "retry"?, "timeout_seconds"?}], "output"?: any}``.
Errors are keyed by JSON path relative to the definition (``steps[1].depends_on[0]``, ``output.answer``);
problems with the definition as a whole use the path ``$``.
"""

import math
import re
from graphlib import CycleError, TopologicalSorter

from workflows import templating
from workflows.steps import REGISTRY

MAX_STEPS = 50
STEP_ID = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
STEP_KEYS = {"id", "type", "config", "depends_on", "retry", "timeout_seconds"}
DEFINITION_KEYS = {"steps", "output"}
RETRY_LIMITS = {"max_attempts": (1, 10, True), "backoff_seconds": (0, 300, False)}
TIMEOUT_LIMITS = (1, 300)
ROOT = "$"


class DefinitionError(Exception):
    """A definition is invalid; ``errors`` maps JSON paths to messages, every problem found."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items()))


class _Errors(dict):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)

    def merge(self, errors: dict[str, list[str]], prefix: str = "") -> None:
        for path, messages in errors.items():
            for message in messages:
                self.add(f"{prefix}.{path}" if prefix else path, message)


def _is_number(value, *, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


def _check_retry(retry, path: str, errors: _Errors) -> None:
    if not isinstance(retry, dict):
        errors.add(path, "must be an object with max_attempts and backoff_seconds")
        return
    for key in retry:
        if key not in RETRY_LIMITS:
            errors.add(f"{path}.{key}", "unknown key; allowed: backoff_seconds, max_attempts")
    for key, (low, high, integer) in RETRY_LIMITS.items():
        if key not in retry:
            errors.add(f"{path}.{key}", "is required")
        elif not _is_number(retry[key], integer=integer):
            errors.add(f"{path}.{key}", "must be an integer" if integer else "must be a number")
        elif not low <= retry[key] <= high:
            errors.add(f"{path}.{key}", f"must be between {low} and {high}")


def _check_step(step, index: int, errors: _Errors) -> None:
    path = f"steps[{index}]"
    for key in step:
        if key not in STEP_KEYS:
            errors.add(f"{path}.{key}", f"unknown key; allowed: {', '.join(sorted(STEP_KEYS))}")

    if "id" not in step:
        errors.add(f"{path}.id", "is required")
    elif not isinstance(step["id"], str) or not STEP_ID.match(step["id"]):
        errors.add(
            f"{path}.id",
            "must be 1 to 64 letters, digits, '_' or '-', starting with a letter or '_'",
        )

    step_type = None
    if "type" not in step:
        errors.add(f"{path}.type", "is required")
    elif not isinstance(step["type"], str) or step["type"] not in REGISTRY:
        errors.add(f"{path}.type", f"unknown step type {step['type']!r}; known: {', '.join(sorted(REGISTRY))}")
    else:
        step_type = REGISTRY[step["type"]]

    if "config" not in step:
        errors.add(f"{path}.config", "is required")
    else:
        if step_type is not None:
            errors.merge(step_type.validate_config(step["config"]), prefix=path)
        errors.merge(templating.syntax_errors(step["config"], f"{path}.config"))

    if "retry" in step:
        _check_retry(step["retry"], f"{path}.retry", errors)
    if "timeout_seconds" in step:
        low, high = TIMEOUT_LIMITS
        value = step["timeout_seconds"]
        if not _is_number(value, integer=False):
            errors.add(f"{path}.timeout_seconds", "must be a number")
        elif not low <= value <= high:
            errors.add(f"{path}.timeout_seconds", f"must be between {low} and {high}")


def _check_dependencies(steps: list, ids: dict[str, int], errors: _Errors) -> dict[str, list[str]]:
    """Check depends_on lists; return the graph of valid edges (step id -> ids it depends on)."""
    graph: dict[str, list[str]] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        step_id = step.get("id")
        own = step_id if isinstance(step_id, str) and ids.get(step_id) == index else None
        depends_on = step.get("depends_on", [])
        path = f"steps[{index}].depends_on"
        if not isinstance(depends_on, list):
            errors.add(path, "must be a list of step ids")
            depends_on = []
        edges: list[str] = []
        for position, dependency in enumerate(depends_on):
            item_path = f"{path}[{position}]"
            if not isinstance(dependency, str):
                errors.add(item_path, "must be a step id (string)")
            elif dependency == step_id:
                errors.add(item_path, "a step cannot depend on itself")
            elif dependency not in ids:
                errors.add(item_path, f"unknown step {dependency!r}")
            elif dependency in edges:
                errors.add(item_path, f"{dependency!r} is listed twice")
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


def _check_references(value, path: str, visible: set[str] | None, known: set[str], errors: _Errors, where: str):
    """Templates may read only input/steps/execution/project, and only steps that will have finished."""
    for string_path, refs in templating.references(value, path).items():
        for name in sorted(refs.names - set(templating.CONTEXT_KEYS)):
            errors.add(string_path, f"unknown variable {name!r}; available: {', '.join(templating.CONTEXT_KEYS)}")
        if refs.steps_shadowed:
            continue
        for step_id in sorted(refs.step_ids):
            if step_id not in known:
                errors.add(string_path, f"steps.{step_id} refers to an unknown step")
            elif visible is not None and step_id not in visible:
                errors.add(
                    string_path,
                    f"steps.{step_id} is not a dependency of {where}: add it to depends_on (directly or through "
                    "another dependency)",
                )


def validate_definition(definition) -> None:
    """Raise DefinitionError listing every problem in ``definition``; return None when it is valid."""
    errors = _Errors()
    if not isinstance(definition, dict):
        raise DefinitionError({ROOT: ["must be an object with a 'steps' list"]})
    for key in definition:
        if key not in DEFINITION_KEYS:
            errors.add(key if isinstance(key, str) else ROOT, "unknown key; allowed: output, steps")

    steps = definition.get("steps")
    if "steps" not in definition:
        errors.add("steps", "is required")
        steps = []
    elif not isinstance(steps, list):
        errors.add("steps", "must be a list")
        steps = []
    elif not steps:
        errors.add("steps", "must contain at least one step")
    elif len(steps) > MAX_STEPS:
        errors.add("steps", f"at most {MAX_STEPS} steps are allowed (got {len(steps)})")
        steps = []  # do not spend time on the rest of an oversized definition

    ids: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            errors.add(f"steps[{index}]", "must be an object")
            continue
        _check_step(step, index, errors)
        step_id = step.get("id")
        if isinstance(step_id, str) and STEP_ID.match(step_id):
            if step_id in ids:
                errors.add(f"steps[{index}].id", f"duplicate id {step_id!r} (also steps[{ids[step_id]}])")
            else:
                ids[step_id] = index

    graph = _check_dependencies(steps, ids, errors)
    cycles = _find_cycles(graph, ids)
    for cycle in cycles:
        errors.add(f"steps[{ids[cycle[0]]}].depends_on", f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}")

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
            _check_references(step["config"], f"steps[{index}].config", visible, known, errors, f"step {step_id!r}")
    if "output" in definition:
        errors.merge(templating.syntax_errors(definition["output"], "output"))
        _check_references(definition["output"], "output", None, known, errors, "the output")

    if errors:
        raise DefinitionError(dict(errors))


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
