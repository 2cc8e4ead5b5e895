import pytest

from workflows.templating import MAX_RENDERED_CHARS, TemplateRenderError, render, syntax_errors

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
