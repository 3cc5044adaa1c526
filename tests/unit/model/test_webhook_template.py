"""Webhook body templates: plain data in, a JSON object out, and no way to Python's insides
(refused when the plan is applied where that can be seen, else when the body is rendered)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from jobplan.model import Notifications
from jobplan.model.webhook_template import (
    MAX_OUTPUT_CHARS,
    TemplateError,
    check_template,
    render_template,
)

PAYLOAD = {
    "event": "run_failed",
    "plan": "finance/eod",
    "status": "ERROR",
    "reason": 'job "load" failed',
    "failed_jobs": ["load", "report"],
}

TEAMS = """{
  "@type": "MessageCard", "@context": "https://schema.org/extensions",
  "themeColor": {{ ("FF0000" if status == "ERROR" else "00AA00") | tojson }},
  "summary": {{ (plan ~ " " ~ status) | tojson }},
  "sections": [{"facts": [
    {% for job in failed_jobs %}{"name": "failed", "value": {{ job | tojson }}}
    {{- "," if not loop.last }}{% endfor %}
  ]}]
}"""


def test_a_teams_card_renders_from_plain_fields() -> None:
    body = render_template(TEAMS, PAYLOAD)
    assert body["themeColor"] == "FF0000" and body["summary"] == "finance/eod ERROR"
    assert body["sections"][0]["facts"] == [
        {"name": "failed", "value": "load"},
        {"name": "failed", "value": "report"},
    ]


def test_tojson_quotes_what_would_break_the_json() -> None:
    assert render_template('{"text": {{ reason | tojson }}}', PAYLOAD) == {
        "text": 'job "load" failed'
    }


# reaching Python's insides: refused at apply, with the reason
ESCAPES = {
    "{{ ''.__class__.__mro__ }}": "'__mro__' names Python internals",
    "{{ cycler.__init__.__globals__ }}": "'__globals__' names Python internals",
    "{{ plan['__class__'] }}": "'__class__' names Python internals",
    "{{ lipsum() }}": "unknown name 'lipsum'",
    "{{ namespace(a=1) }}": "unknown name 'namespace'",
    "{{ self }}": "unknown name 'self'",
    "{{ plan.upper() }}": "templates read no attributes",
    "{{ plan|attr('__class__') }}": "No filter named 'attr'",
    "{{ '%99999999s'|format(plan) }}": "No filter named 'format'",
    "{{ plan|center(1000000000) }}": "No filter named 'center'",
    "{% macro m() %}{{ m() }}{% endmacro %}": "macros are not allowed",
    "{% include 'x' %}": "includes are not allowed",
    "{% for a in range(9) %}{% for b in range(9) %}{% endfor %}{% endfor %}": "may not be nested",
    "{% for a in failed_jobs recursive %}{% endfor %}": "recursive loops are not allowed",
    "{% if %}": "syntax error on line 1",
}


@pytest.mark.parametrize("source", ESCAPES)
def test_templates_reaching_for_python_are_refused_at_apply(source: str) -> None:
    with pytest.raises(TemplateError) as caught:
        check_template(source)
    assert ESCAPES[source] in str(caught.value)


# only values show these: the render fails with a reason, and nothing is sent
AT_RENDER = {
    "{{ plan[('_' ~ '_class__')] }}": "the template was refused: '__class__' of a str",
    "{{ range(10 ** 9) | length }}": "range() may produce at most 1000 items",
    "{{ plan * 100000000 }}": "'*' may build values of at most 1000 items",
    "{{ 2 ** 100000000 }}": "'**' is limited to exponents up to 64",
    "{% for i in range(999) %}{{ reason|replace('', reason) }}{% endfor %}": (
        f"longer than {MAX_OUTPUT_CHARS} characters"
    ),
    '{"jobs": {{ failed_jobs }}}': "did not render valid JSON",
    "[1, 2]": "must render a JSON object",
}


@pytest.mark.parametrize("source", AT_RENDER)
def test_renders_that_go_wrong_fail_with_a_reason(source: str) -> None:
    check_template(source)
    with pytest.raises(TemplateError) as caught:
        render_template(source, PAYLOAD)
    assert AT_RENDER[source] in str(caught.value)


def test_the_plan_model_names_the_field_at_fault() -> None:
    hook = "https://hooks.example.com/x"
    with pytest.raises(ValidationError) as caught:
        Notifications(
            on_start=[hook],
            webhook_templates={hook: "{{ ''.__class__ }}", "https://elsewhere/": "{}"},
        )
    errors = {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}
    assert errors == {
        f"webhook_templates.{hook}": (
            "'__class__' names Python internals, which templates cannot reach"
        ),
        "webhook_templates.https://elsewhere/": (
            "not a webhook URL named in on_start, on_failure, on_success or on_overdue"
        ),
    }


def test_the_documented_slack_and_teams_examples_render() -> None:
    """docs/notifications.md's YAML examples are valid plans' notifications and render."""
    text = (Path(__file__).parents[3] / "docs" / "notifications.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        settings = Notifications(**yaml.safe_load(block)["notifications"])
        [template] = settings.webhook_templates.values()
        assert render_template(template, PAYLOAD)
        assert render_template(template, {"event": "run_started", "plan": "p", "status": "RUNNING"})
