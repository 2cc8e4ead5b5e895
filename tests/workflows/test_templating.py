import os
import re
import signal
import time

import pytest

from workflows.templating import (
    MAX_RENDERED_CHARS,
    TemplateRenderError,
    isolation,
    render,
    render_chain,
    syntax_errors,
)

CONTEXT = {
    "input": {"name": "Ann", "count": 3, "tags": ["a", "b"], "profile": {"city": "Oslo"}, "flag": True},
    "steps": {"fetch": {"output": {"status_code": 200, "json": {"items": [1, 2]}}}},
    "execution": {"id": "e-1", "started_at": "2026-01-01T00:00:00Z"},
    "project": {"id": "p-1", "slug": "demo"},
}


def test_text_with_an_expression_renders_to_a_string():
    assert render("Hello {{ input.name }}!", CONTEXT) == "Hello Ann!"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ input.profile }}", {"city": "Oslo"}),
        ("{{ input.count }}", 3),
        ("{{ input.count / 2 }}", 1.5),
        ("{{ input.tags }}", ["a", "b"]),
        ("{{ input.flag }}", True),
        ("{{ none }}", None),
        ("{{ steps.fetch.output.json['items'] }}", [1, 2]),
    ],
)
def test_single_expression_keeps_its_json_type(template, expected):
    assert render(template, CONTEXT) == expected


def test_single_expression_with_surrounding_whitespace_keeps_its_type():
    assert render("  {{ input.count }}\n", CONTEXT) == 3


def test_two_expressions_render_to_a_string():
    assert render("{{ input.count }}{{ input.count }}", CONTEXT) == "33"


def test_strings_inside_objects_and_lists_are_rendered():
    value = {"greeting": ["Hi {{ input.name }}", "{{ project.slug }}"], "n": 5, "ok": None}
    assert render(value, CONTEXT) == {"greeting": ["Hi Ann", "demo"], "n": 5, "ok": None}


def test_string_without_markup_is_returned_unchanged():
    assert render("plain {text}", CONTEXT) == "plain {text}"


def test_tojson_filter_does_not_html_escape():
    assert render("{{ {'a': '<b>'} | tojson }}", CONTEXT) == '{"a": "<b>"}'


def test_undefined_variable_names_the_missing_expression():
    with pytest.raises(TemplateRenderError, match=r"input\.missing is undefined in 'Hi {{ input\.missing }}'"):
        render("Hi {{ input.missing }}", CONTEXT)


def test_undefined_single_expression_fails_instead_of_yielding_null():
    with pytest.raises(TemplateRenderError, match=r"steps\.other is undefined"):
        render("{{ steps.other.output }}", CONTEXT)


def test_error_message_starts_with_the_path_when_given():
    with pytest.raises(TemplateRenderError, match=r"^config\.url: input\.nope is undefined"):
        render({"url": "{{ input.nope }}"}, CONTEXT, path="config")


def test_sandbox_refuses_access_to_python_internals():
    with pytest.raises(TemplateRenderError, match="refused by the template sandbox"):
        render("{{ ''.__class__.__mro__ }}", CONTEXT)


def test_huge_string_repetition_is_refused():
    with pytest.raises(TemplateRenderError, match="refused by the template sandbox: repetition"):
        render("{{ 'a' * 100000000 }}", CONTEXT)


def test_rendered_text_longer_than_the_cap_is_refused():
    template = "{% for i in range(2000) %}" + "x" * 1000 + "{% endfor %}"
    with pytest.raises(TemplateRenderError, match=f"longer than {MAX_RENDERED_CHARS} characters"):
        render(template, CONTEXT)


def test_huge_range_is_refused():
    with pytest.raises(TemplateRenderError, match=r"range\(\) is limited"):
        render("{% for i in range(10000000) %}{% endfor %}", CONTEXT)


def test_error_raised_by_the_expression_becomes_a_render_error():
    with pytest.raises(TemplateRenderError, match="ZeroDivisionError"):
        render("{{ input.count / 0 }}", CONTEXT)


def test_syntax_errors_are_keyed_by_json_path():
    value = {"a": ["fine {{ input.name }}", "{{ input.name }"], "b c": "{% endif %}"}
    assert set(syntax_errors(value, "steps[0].config")) == {"steps[0].config.a[1]", 'steps[0].config["b c"]'}


def test_valid_templates_have_no_syntax_errors():
    assert syntax_errors({"a": "{{ input.name | upper }}", "b": [1, "x"]}, "output") == {}


# -- resource limits (issue 12): the reported payloads, the caps, and the renderer process's rlimits -------------


# The payloads of the security review: each allocated hundreds of MiB or ran for seconds in the worker itself.
ISSUE_PAYLOADS = [
    ("{{ (''|center(200000000))|length }}", r"center\(\): width 200000000 is over the limit of 10000"),
    ("{{ (['a'*1000000]*200)|join }}", r"join\(\) would build 200000000 characters, over the limit of 1000000"),
    ("{{ ((10**1000)**1000)**12 > 1 }}", r"power would make an integer of about \d+ bits, over the limit of 14000"),
    ("{{ ''|center(10**10) }}", r"center\(\): width 10000000000 is over the limit of 10000"),
]


@pytest.fixture
def template_limits(settings):
    """Set TEMPLATE_* settings for this test: the renderers are restarted with them, and again afterwards."""

    def apply(**limits):
        for name, value in limits.items():
            setattr(settings, name, value)
        isolation.reset()

    yield apply
    isolation.reset()


def renderer_pid() -> int:
    render("{{ 1 }}", CONTEXT)
    return isolation.pool().pids()[0]


@pytest.mark.parametrize(("template", "message"), ISSUE_PAYLOADS)
def test_reported_payload_fails_with_a_clear_error_within_a_second(template, message):
    renderer_pid()  # started beforehand: the figure is the render's, not a process start's
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match=f"^refused by the template sandbox: {message}"):
        render(template, CONTEXT)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(("template", "message"), ISSUE_PAYLOADS)
def test_reported_payload_is_refused_when_the_definition_is_saved(template, message):
    errors = syntax_errors({"value": template}, "config")
    assert list(errors) == ["config.value"]
    assert re.fullmatch(f"refused by the template sandbox: {message}", errors["config.value"][0])


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x'.ljust(10**9) }}", r"ljust\(\): width 1000000000 is over the limit"),
        ("{{ 'x'.zfill(10**9) }}", r"zfill\(\): width 1000000000 is over the limit"),
        ("{{ 'a'|indent(10**6) }}", r"indent\(\): width 1000000 is over the limit"),
        ("{{ ((input.name ~ '\n') * 100000)|indent(100) }}", r"indent\(\) would build \d+ characters"),
        ("{{ '%*s' % (10**9, 'x') }}", r"format: '\*' widths are not allowed"),
        ("{{ '%.900000000f' % 1.5 }}", r"format: width 900000000 is over the limit"),
        ("{{ '{:>900000000}'.format(1) }}", r"format: width 900000000 is over the limit"),
        ("{{ '%1000000s'|format('x') }}", r"format: width 1000000 is over the limit"),
        ("{{ 'ab'.replace('', 'x' * 900000) }}", r"replace\(\) would build \d+ characters"),
        ("{{ ('a' * 900000)|replace('a', 'bb') }}", r"replace\(\) would build 1800000 characters"),
        ("{{ ','.join(['a' * 600000, 'b' * 600000]) }}", r"join\(\) would build 1200001 characters"),
        ("{{ ('a' * 600000) ~ ('b' * 600000) }}", r"~ concatenation would build 1200000 characters"),
        ("{{ ('a' * 600000) + ('b' * 600000) }}", r"concatenation would build 1200000 characters"),
        ("{{ [1] * 2000000 }}", r"repetition would exceed 1000000 items"),
        ("{{ 2 ** 100000 }}", r"exponent larger than 1000"),
        ("{{ (7 ** 1000) * (7 ** 1000) * (7 ** 1000) * (7 ** 1000) * (7 ** 1000) }}", r"multiplication would make"),
        ("{{ [1, 2]|batch(10**9, 0)|list }}", r"batch\(\): count 1000000000 is over the limit"),
        ("{{ [1, 2]|slice(10**9)|list }}", r"slice\(\): count 1000000000 is over the limit"),
        ("{{ {'a': 1}|tojson(indent=10**9) }}", r"tojson\(\): width 1000000000 is over the limit"),
    ],
)
def test_filters_methods_and_operators_are_capped(template, message):
    with pytest.raises(TemplateRenderError, match=message):
        render(template, CONTEXT)


def test_globals_are_allow_listed():
    with pytest.raises(TemplateRenderError, match="lipsum is undefined"):
        render("{{ lipsum(10**9) }}", CONTEXT)


def test_templates_within_the_caps_still_render():
    template = "{{ (input.name|center(9)) ~ '|' ~ ('ab' * 3) ~ '|' ~ (2 ** 10) ~ '|' ~ (['x', 'y']|join('-')) }}"
    assert render(template, CONTEXT) == "   Ann   |ababab|1024|x-y"


def test_recursive_macro_fails_with_a_clear_error():
    with pytest.raises(TemplateRenderError, match=r"^config\.value: template recursed too deeply in '\{% macro"):
        render({"value": "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}"}, CONTEXT, path="config")


def test_memory_beyond_the_limit_fails_the_render_and_the_next_render_works(template_limits):
    template_limits(TEMPLATE_MEMORY_LIMIT_MB=32)
    # Each item is within the caps (1 MB); the list grows until RLIMIT_AS stops the renderer.
    hog = "{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set _ = ns.x.append('a' * 1000000) %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match=r"^template exceeded the memory limit \(32 MiB\)$"):
        render(hog, CONTEXT)
    assert time.monotonic() - started < 10
    assert render("{{ input.name }}", CONTEXT) == "Ann"


def test_cpu_beyond_the_limit_kills_the_renderer(template_limits):
    template_limits(TEMPLATE_CPU_SECONDS=1, TEMPLATE_TIMEOUT_SECONDS=60)
    renderer_pid()
    spin = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateRenderError, match=r"^template exceeded the CPU time limit \(1 s\)$"):
        render(spin, CONTEXT)
    assert render("{{ input.count }}", CONTEXT) == 3


def test_cooperative_deadline_stops_a_long_render(template_limits):
    template_limits(TEMPLATE_CPU_SECONDS=60, TEMPLATE_TIMEOUT_SECONDS=1)
    spin = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateRenderError, match=r"^template took longer than 1 seconds to render$"):
        render(spin, CONTEXT)


def test_a_renderer_that_does_not_answer_is_killed_at_the_wall_clock_limit(template_limits):
    template_limits(TEMPLATE_TIMEOUT_SECONDS=1)
    pid = renderer_pid()
    os.kill(pid, signal.SIGSTOP)  # stands in for a render stuck in C code, where no hook can see the deadline
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match=r"^template took longer than 1 seconds to render$"):
        render("{{ input.name }}", CONTEXT)
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    assert render("{{ input.name }}", CONTEXT) == "Ann"


def test_on_wait_is_called_while_a_render_runs(template_limits):
    template_limits(TEMPLATE_CPU_SECONDS=60, TEMPLATE_TIMEOUT_SECONDS=2)
    calls = []
    spin = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateRenderError, match="longer than 2 seconds"):
        render(spin, CONTEXT, on_wait=lambda: calls.append(time.monotonic()))
    assert len(calls) >= 4  # about every quarter of a second


def test_renderer_process_environment_holds_no_secrets():
    with open(f"/proc/{renderer_pid()}/environ", "rb") as environ:
        names = {entry.split(b"=", 1)[0].decode() for entry in environ.read().split(b"\0") if entry}
    assert names <= {"PATH", "PYTHONPATH", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE"}
    assert "DATABASE_URL" in os.environ  # what it would otherwise have inherited


def test_renderer_process_cannot_start_processes_or_open_files():
    with open(f"/proc/{renderer_pid()}/limits") as limits:
        rows = {line[:26].strip(): line[26:].split() for line in limits.read().splitlines()[1:]}
    assert rows["Max processes"][:2] == ["0", "0"]
    assert int(rows["Max open files"][0]) < 10
    assert rows["Max address space"][0] != "unlimited"


def test_this_process_never_compiles_a_template():
    from workflows.templating.sandbox import compile_template

    with pytest.raises(RuntimeError, match="only in a renderer process"):
        compile_template("{{ 1 }}")


def test_render_chain_binds_each_items_output_for_the_next_and_stops_at_the_first_error():
    items = [
        {"value": {"value": "{{ input.n + 1 }}"}, "path": "steps.a.config", "bind": "a", "key": "value"},
        {"value": {"value": "{{ steps.a.output * 2 }}"}, "path": "steps.b.config", "bind": "b", "key": "value"},
        {"value": "{{ steps.b.output / 0 }}", "path": "output"},
        {"value": "{{ steps.b.output }}", "path": "never"},
    ]
    context = {"input": {"n": 2}, "steps": {}}
    assert render_chain(items, context) == [{"value": 3}, {"value": 6}]
    assert context == {"input": {"n": 2}, "steps": {}}  # the caller's context is not changed
    assert render_chain(items[:2] + items[3:], context) == [{"value": 3}, {"value": 6}, 6]


def test_render_chain_sends_nothing_for_fewer_than_two_templates(monkeypatch):
    monkeypatch.setattr(isolation, "render_chain", lambda *args, **kwargs: pytest.fail("sent to a renderer"))
    items = [{"value": {"value": 1}, "path": "a", "bind": "a", "key": "value"}, {"value": "{{ 1 }}", "path": "b"}]
    assert render_chain(items, {}) == []


def test_references_are_analysed_once_per_source_and_handed_out_as_copies():
    from workflows.templating import analysis, references

    source = "{{ secrets.A ~ steps.x.output }}"
    first = references({"v": source}, "config")["config.v"]
    first.secret_names.add("B")
    hits = analysis._source_references.cache_info().hits
    again = references({"v": source}, "config")["config.v"]
    assert (again.secret_names, again.step_ids) == ({"A"}, {"x"})
    assert analysis._source_references.cache_info().hits == hits + 1
