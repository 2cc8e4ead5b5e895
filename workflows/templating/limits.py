"""Caps on what a template may allocate or compute, checked before the work is done.

The sandbox's hooks see attribute lookups, calls and the intercepted operators, but filters and ``~`` run
straight from the compiled code: so every filter and global a template can reach is allow-listed here, wrapped
with checks of its arguments (widths, counts) and of the size of what it would build. These checks give clear
messages; the renderer process's rlimits (workflows.templating.isolation) are the bound that holds whatever
gets past them.
"""

import functools
import itertools
import re
import string
from collections.abc import Callable, Iterable

from jinja2 import filters as jinja_filters
from jinja2 import pass_eval_context
from jinja2.exceptions import SecurityError

# Any string or list an operator or filter builds (and the rendered text of one template).
MAX_RENDERED_CHARS = 1_000_000
# Widths and counts given as arguments: center/ljust/rjust/zfill/indent width, format widths and precisions,
# batch/slice counts, expandtabs.
MAX_WIDTH = 10_000
# Integers: about 4,200 decimal digits (Python refuses to print more than 4,300, so results stay printable).
MAX_INT_BITS = 14_000
MAX_POWER_EXPONENT = 1_000


class TemplateLimitError(SecurityError):
    """A template asked for more than a limit allows; the message names the limit."""


def _refuse(message: str):
    raise TemplateLimitError(message)


def check_width(what: str, width) -> None:
    if isinstance(width, int) and not isinstance(width, bool) and width > MAX_WIDTH:
        _refuse(f"{what}: width {width} is over the limit of {MAX_WIDTH}")


def check_chars(what: str, chars: int) -> None:
    if chars > MAX_RENDERED_CHARS:
        _refuse(f"{what} would build {chars} characters, over the limit of {MAX_RENDERED_CHARS}")


def check_items(what: str, items: int) -> None:
    if items > MAX_RENDERED_CHARS:
        _refuse(f"{what} would build {items} items, over the limit of {MAX_RENDERED_CHARS}")


def check_int(what: str, bits: int) -> None:
    if bits > MAX_INT_BITS:
        _refuse(f"{what} would make an integer of about {bits} bits, over the limit of {MAX_INT_BITS}")


def estimated_chars(value, budget: int = MAX_RENDERED_CHARS) -> int:
    """About how many characters ``str(value)`` makes; stops counting once past ``budget``."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2
    if isinstance(value, float):
        return 24
    if isinstance(value, dict):
        total = 2
        for key, item in value.items():
            total += estimated_chars(key, budget) + estimated_chars(item, budget) + 4
            if total > budget:
                break
        return total
    if isinstance(value, list | tuple | set | frozenset):
        total = 2
        for item in value:
            total += estimated_chars(item, budget) + 2
            if total > budget:
                break
        return total
    return 64  # any other object: str() of it is its own, bounded, representation


def _sized(value):
    return len(value) if isinstance(value, str | bytes | bytearray | list | tuple) else None


def check_result(what: str, value):
    """Refuse a string or list over the caps (for filters whose result is at most a small multiple of the input)."""
    if isinstance(value, str | bytes | bytearray):
        check_chars(what, len(value))
    elif isinstance(value, list | tuple):
        check_items(what, len(value))
    return value


# -- operators ----------------------------------------------------------------------------------------------


def check_binop(operator: str, left, right) -> None:
    """Before ``left <operator> right``: refuse what would build a huge string, list or integer."""
    if operator == "*":
        for sequence, count in ((left, right), (right, left)):
            length = _sized(sequence)
            if length is not None and isinstance(count, int) and length * count > MAX_RENDERED_CHARS:
                _refuse(f"repetition would exceed {MAX_RENDERED_CHARS} items")
        if isinstance(left, int) and isinstance(right, int):
            check_int("multiplication", left.bit_length() + right.bit_length())
    elif operator == "**":
        if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
            _refuse(f"exponent larger than {MAX_POWER_EXPONENT}")
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            check_int("power", left.bit_length() * right)
    elif operator == "+":
        left_size, right_size = _sized(left), _sized(right)
        if left_size is not None and right_size is not None:
            check_chars("concatenation", left_size + right_size)
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left)


def concat(values: Iterable) -> str:
    """``a ~ b ~ c``: the strings joined, refused when they would exceed the cap."""
    values = tuple(values)
    total = 0
    for value in values:
        total += estimated_chars(value)
        check_chars("~ concatenation", total)
    return "".join(value if isinstance(value, str) else str(value) for value in values)


# -- format strings -----------------------------------------------------------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_FORMAT_SPEC = re.compile(r"^(?:.?[<>=^])?[+\- ]?z?#?0?(\d+)?[,_]?(?:\.(\d+))?")


def check_percent_format(template: str) -> None:
    """``'%10s' % x`` and the ``format`` filter: widths and precisions are capped, ``*`` is refused."""
    for match in _PERCENT_SPEC.finditer(template):
        for part in match.groups():
            if part == "*":
                _refuse("format: '*' widths are not allowed in templates")
            if part is not None:
                check_width("format", int(part))


def check_brace_format(template: str) -> None:
    """``'{:>10}'.format(x)``: widths and precisions are capped, nested replacement fields are refused."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format will raise its own, clear, error
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            _refuse("format: nested replacement fields are not allowed in templates")
        match = _FORMAT_SPEC.match(spec)
        for part in match.groups() if match else ():
            if part is not None:
                check_width("format", int(part))


# -- methods of strings (reached through the sandbox's call hook) ------------------------------------------


def _replace_size(text, old, new, count=-1) -> int:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return len(text)
    occurrences = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(0, len(new) - len(old))


def _join_size(separator, items) -> int:
    if not isinstance(items, list | tuple):
        return 0  # an iterator: str.join checks nothing here; the result is checked after
    total = max(0, len(items) - 1) * len(separator)
    for item in items:
        total += len(item) if isinstance(item, str | bytes) else 0
        if total > MAX_RENDERED_CHARS:
            break
    return total


def check_string_method(method, args: tuple, kwargs: dict) -> None:
    """Before ``'text'.method(...)``: widths, tab sizes, replacements and joins are capped."""
    # The sandbox hands str.format out wrapped (functools.update_wrapper): the bound method is __wrapped__.
    method = getattr(method, "__wrapped__", method)
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str | bytes | bytearray):
        return
    name = getattr(method, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill"):
        check_width(f"{name}()", args[0] if args else kwargs.get("width"))
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            check_width("expandtabs()", tabsize)
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            check_chars("expandtabs()", len(owner) + tabs * tabsize)
    elif name == "replace" and len(args) >= 2:
        check_chars("replace()", _replace_size(owner, *args[:3]))
    elif name == "join" and args:
        check_chars("join()", _join_size(owner, args[0]))
    elif name in ("format", "format_map") and isinstance(owner, str):
        check_brace_format(owner)


# -- the allow-listed filters ------------------------------------------------------------------------------


def _checked(function: Callable, check: Callable | None = None, *, result: bool = True) -> Callable:
    """``function`` with ``check(*args, **kwargs)`` before it (arguments without Jinja's pass_* first one)."""
    passes_first = getattr(function, "jinja_pass_arg", None) is not None
    name = function.__name__.removeprefix("do_")

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if check is not None:
            check(*(args[1:] if passes_first else args), **kwargs)
        value = function(*args, **kwargs)
        return check_result(f"{name}()", value) if result else value

    return wrapper


def _check_center(value, width=80):
    check_width("center()", width)


def _check_indent(value, width=4, first=False, blank=False):
    size = len(width) if isinstance(width, str) else width
    if isinstance(size, int):
        check_width("indent()", size)
        text = str(value)
        check_chars("indent()", len(text) + size * (text.count("\n") + 1))


@pass_eval_context
def _join(eval_ctx, value, d="", attribute=None):
    """The ``join`` filter: the joined size is checked before anything is built (iterators are read first)."""
    items = value if isinstance(value, list | tuple) else list(itertools.islice(value, MAX_RENDERED_CHARS + 1))
    check_items("join()", len(items))
    if attribute is None:  # joined attributes are checked once built
        total = max(0, len(items) - 1) * len(str(d)) + sum(estimated_chars(item) for item in items)
        check_chars("join()", total)
    return check_result("join()", jinja_filters.do_join(eval_ctx, items, d, attribute))


def _check_format(value, *args, **kwargs):
    check_percent_format(str(value))


def _check_replace(s, old, new, count=None):
    text = str(s)
    check_chars("replace()", _replace_size(text, str(old), str(new), -1 if count is None else count))


def _check_wordwrap(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    text = str(s)
    lines = len(text) // max(int(width) if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    check_chars("wordwrap()", len(text) + lines * len(wrapstring or "\n"))


def _check_count(what: str):
    def check(value, count, fill_with=None):
        if isinstance(count, int) and count > MAX_WIDTH:
            _refuse(f"{what}: count {count} is over the limit of {MAX_WIDTH}")

    return check


def _check_tojson_indent(value, indent=None):
    if isinstance(indent, int):
        check_width("tojson()", indent)


def _check_truncate(s, length=255, killwords=False, end="...", leeway=None):
    pass  # the result is never longer than the input plus ``end``


# Jinja's own filters that templates may use, each with the checks it needs; anything else is not a filter here.
_PLAIN = [
    *("abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "filesizeformat", "first"),
    *("float", "forceescape", "groupby", "int", "items", "last", "length", "list", "lower", "map", "max", "min"),
    *("pprint", "random", "reject", "rejectattr", "reverse", "round", "safe", "select", "selectattr", "sort"),
    *("string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode", "urlize"),
    *("wordcount", "xmlattr"),
]
_CHECKS: dict[str, Callable] = {
    "center": _check_center,
    "indent": _check_indent,
    "format": _check_format,
    "replace": _check_replace,
    "wordwrap": _check_wordwrap,
    "batch": _check_count("batch()"),
    "slice": _check_count("slice()"),
}


def allowed_filters(tojson: Callable) -> dict[str, Callable]:
    """The filter table of the workflow sandbox: allow-listed, each one capped."""
    table = {name: _checked(jinja_filters.FILTERS[name]) for name in _PLAIN}
    table |= {name: _checked(jinja_filters.FILTERS[name], check) for name, check in _CHECKS.items()}
    table["join"] = _join
    table["tojson"] = _checked(tojson, _check_tojson_indent)
    return table
