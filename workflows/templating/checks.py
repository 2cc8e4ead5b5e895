"""Save-time checks of one template, run in a renderer process: it compiles, and its constant parts stay in bounds.

A constant part (``''|center(10**10)``, ``(10**1000)**1000``, ``['a' * 10**6] * 200 | join``) has the same value
whatever the context, so it is evaluated here, through the same capped filters and operators as a render:
a limit it breaks is reported when the definition is saved (400) instead of when a step runs.
"""

from jinja2 import TemplateSyntaxError, nodes
from jinja2.runtime import new_context
from jinja2.utils import _PassArg

from workflows.templating.limits import TemplateLimitError
from workflows.templating.sandbox import ENV, compile_template, is_template


class _NotConstant(Exception):
    """This expression depends on the context (or is not worth evaluating): skip it."""


_FOLDED_BINOPS = {"+", "-", "*", "/", "//", "%", "**"}


class _Folder:
    """Evaluates the constant sub-expressions of a template; a limit they break raises TemplateLimitError."""

    def __init__(self):
        self.context = new_context(ENV, "check", {}, {})
        self.eval_ctx = nodes.EvalContext(ENV)
        self.values: dict[int, object] = {}

    def scan(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Expr):
            try:
                self.fold(node)
                return
            except _NotConstant:
                pass
        for child in node.iter_child_nodes():
            self.scan(child)

    def fold(self, node: nodes.Node):
        key = id(node)
        if key not in self.values:
            try:
                self.values[key] = self._fold(node)
            except (_NotConstant, TemplateLimitError, MemoryError, RecursionError):
                self.values[key] = _NotConstant
                raise
            except Exception:  # 1/0, int('x'): the render will say so, with the context at hand
                self.values[key] = _NotConstant
                raise _NotConstant from None
        value = self.values[key]
        if value is _NotConstant:
            raise _NotConstant
        return value

    def _args(self, node) -> tuple[list, dict]:
        if getattr(node, "dyn_args", None) is not None or getattr(node, "dyn_kwargs", None) is not None:
            raise _NotConstant
        return [self.fold(arg) for arg in node.args], {kwarg.key: self.fold(kwarg.value) for kwarg in node.kwargs}

    def _fold(self, node: nodes.Node):
        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.List):
            return [self.fold(item) for item in node.items]
        if isinstance(node, nodes.Tuple):
            return tuple(self.fold(item) for item in node.items)
        if isinstance(node, nodes.Dict):
            return {self.fold(pair.key): self.fold(pair.value) for pair in node.items}
        if isinstance(node, nodes.BinExpr) and node.operator in _FOLDED_BINOPS:
            return ENV.call_binop(self.context, node.operator, self.fold(node.left), self.fold(node.right))
        if isinstance(node, nodes.Neg | nodes.Pos):
            value = self.fold(node.node)
            return -value if isinstance(node, nodes.Neg) else +value
        if isinstance(node, nodes.Concat):
            return ENV.concat([self.fold(item) for item in node.nodes])
        if isinstance(node, nodes.Getattr):
            return ENV.getattr(self.fold(node.node), node.attr)
        if isinstance(node, nodes.Getitem):
            return ENV.getitem(self.fold(node.node), self.fold(node.arg))
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):  # 'text'.center(...)
            method = self.fold(node.node)
            args, kwargs = self._args(node)
            return ENV.call(self.context, method, *args, **kwargs)
        if isinstance(node, nodes.Filter) and node.node is not None:
            function = ENV.filters.get(node.name)
            pass_arg = _PassArg.from_obj(function) if function is not None else None
            if function is None or pass_arg is _PassArg.context:
                raise _NotConstant
            args, kwargs = self._args(node)
            args.insert(0, self.fold(node.node))
            if pass_arg is _PassArg.eval_context:
                args.insert(0, self.eval_ctx)
            elif pass_arg is _PassArg.environment:
                args.insert(0, ENV)
            value = function(*args, **kwargs)
            return list(value) if not isinstance(value, str | int | float | list | tuple | dict) else value
        raise _NotConstant


def template_error(source: str) -> str | None:
    """Why ``source`` cannot be saved (a syntax error, or a constant part over a limit), or None."""
    if not is_template(source):
        return None
    try:
        compiled = compile_template(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (line {exc.lineno})"
    try:
        _Folder().scan(compiled.ast)
    except TemplateLimitError as exc:
        return f"refused by the template sandbox: {exc}"
    return None
