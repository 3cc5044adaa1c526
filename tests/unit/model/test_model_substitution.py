"""The ``${...}`` grammar: parsing, checking at apply time, rendering; no code is evaluated."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from jobplan.model import STORED_CONTEXT, Parameter, PlanDocument, error_messages
from jobplan.model import substitution as sub

LONDON = ZoneInfo("Europe/London")
FIRE = datetime(2026, 3, 29, 3, 0, tzinfo=LONDON)  # the morning the clocks went forward


def _resolve(secrets: dict[str, str] | None = None) -> sub.Resolve:
    lookup = {"secret": (secrets or {}).__getitem__}
    return sub.resolver(
        {"trigger": "schedule", "tenant": "acme", "region": "eu west"},
        {
            "scheduled_for": FIRE,
            "scheduled_for_utc": FIRE.astimezone(UTC),
            "previous_scheduled_for": None,
        },
        lookup,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("${scheduled_for}", "2026-03-29T03:00:00+01:00"),
        ("${scheduled_for_utc} ${scheduled_for_utc:%H:%M}", "2026-03-29T02:00:00Z 02:00"),
        (
            "day=${scheduled_for:%Y-%m-%d} at ${scheduled_for:%H%M %z %Z}",
            "day=2026-03-29 at 0300 +0100 BST",
        ),
        ("${scheduled_for:%%Y is %Y}", "%Y is 2026"),
        ("${trigger}/${tenant}/${region}", "schedule/acme/eu west"),
        ("${previous_scheduled_for}|${previous_scheduled_for:%Y}", "|"),
        ("$${scheduled_for} $HOME $5 $", "${scheduled_for} $HOME $5 $"),
        ("pw=${secret:db.pw}", "pw=s3cr$t ${x}"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert sub.render(text, _resolve({"db.pw": "s3cr$t ${x}"})) == expected


def test_render_does_not_resolve_what_a_value_contains() -> None:
    """A value is inserted as text: references inside it are not expanded again."""
    resolve = sub.resolver({"tenant": "${trigger}", "trigger": "x"}, {})
    assert sub.render("${tenant}", resolve) == "${trigger}"


def test_render_encodes_values_not_literal_text() -> None:
    assert sub.render("a b/${region}", _resolve(), encode=lambda v: v.upper()) == "a b/EU WEST"


def test_unresolvable_references_name_themselves() -> None:
    with pytest.raises(sub.TemplateError, match=r"\$\{secret:gone\}: no secret named 'gone'"):
        sub.render("${secret:gone}", _resolve())
    with pytest.raises(sub.TemplateError, match="secret values are not available here"):
        sub.render("${secret:x}", sub.resolver({}, {}))
    with pytest.raises(sub.TemplateError, match="unknown name 'nope'"):
        sub.render("${nope}", _resolve())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${scheduled_for", "unterminated reference '${scheduled_for': close it with '}'"),
        ("a ${}", "empty reference '${}'"),
        ("${ tenant }", "is not a reference"),
        ("${__import__('os')}", "is not a reference"),
        ("${scheduled_for.__class__}", "is not a reference"),
        ("${scheduled_for:%c}", "%c is not allowed in a format"),
        ("${scheduled_for:%s}", "%s is not allowed in a format"),
        ("${scheduled_for:%Y%}", "a lone '%' at the end is not allowed"),
        ("${scheduled_for:}", "empty format after ':'"),
        ("${trigger:%Y}", "only times take a format"),
        ("${region}", "unknown name 'region' (known: scheduled_for,"),
        ("${secret}", "a secret reference is ${secret:NAME}"),
        ("${secret:a b}", "a secret reference is ${secret:NAME}"),
    ],
)
def test_problems_are_specific(text: str, message: str) -> None:
    problem = sub.problem(text)
    assert problem is not None and message in problem


def test_parameters_are_names_only_where_allowed() -> None:
    assert sub.problem("${region}", parameters={"region"}) is None
    assert "takes no format" in (sub.problem("${region:%Y}", parameters={"region"}) or "")
    assert "not allowed here" in (sub.problem("${secret:x}", namespaces=False) or "")


def test_an_invalid_parameter_value_is_refused_naming_the_field() -> None:
    plan: dict[str, Any] = {
        "name": "p",
        "parameters": [{"name": "day", "default": "${scheduled_for:%d.%m.%c}"}],
        "jobs": [
            {
                "name": "h",
                "kind": "http",
                "url": "https://example.com/${day}",
                "body": {"items": [{"region": "${regoin}"}]},
                "headers": {"X-Run": "${plan_run_id"},
            },
            {
                "name": "c",
                "kind": "command",
                "command": "echo",
                "environment": {"WHEN": "${when}"},
            },
        ],
    }
    with pytest.raises(ValidationError) as caught:
        PlanDocument.model_validate(plan)
    lines = error_messages(caught.value)
    assert any(line.startswith("parameters[0].default: ") and "%c" in line for line in lines)
    assert any(line.startswith("jobs[0].headers.X-Run: unterminated") for line in lines)
    assert any(line.startswith("jobs[1].environment.WHEN: ${when}: unknown name") for line in lines)
    # names in HTTP requests are checked by the plan, once its parts are valid
    plan["parameters"] = [{"name": "day"}]
    plan["jobs"] = plan["jobs"][:1]
    plan["jobs"][0]["headers"] = {}
    with pytest.raises(ValidationError) as caught:
        PlanDocument.model_validate(plan)
    assert error_messages(caught.value)[0].startswith(
        "jobs[0].body.items[0].region: ${regoin}: unknown name 'regoin'"
    )


def test_http_references_see_plan_stage_and_job_parameters_only() -> None:
    def plan(url: str) -> dict[str, object]:
        return {
            "name": "p",
            "parameters": [{"name": "a", "default": "1"}],
            "stages": [
                {
                    "name": "s",
                    "parameters": [{"name": "b", "default": "2"}],
                    "jobs": [
                        {
                            "name": "h",
                            "kind": "http",
                            "url": url,
                            "parameters": [{"name": "c", "default": "3"}],
                        }
                    ],
                },
                {"name": "t", "parameters": [{"name": "d", "default": "4"}]},
            ],
        }

    PlanDocument.model_validate(plan("https://x.test/${a}/${b}/${c}?when=${scheduled_for:%Y %m}"))
    with pytest.raises(ValidationError) as caught:
        PlanDocument.model_validate(plan("https://x.test/${d}"))
    assert error_messages(caught.value) == [
        "stages[0].jobs[0].url: ${d}: unknown name 'd' (known: scheduled_for, "
        "scheduled_for_utc, previous_scheduled_for, trigger, tenant, plan, plan_run_id, a, b, c)"
    ]


@pytest.mark.parametrize(
    "url", ["https://${host}/x", "${scheme}://x.test/", "https://x.test${path}", "https://a@${b}/"]
)
def test_url_references_stay_out_of_scheme_and_host(url: str) -> None:
    job = {"name": "h", "kind": "http", "url": url, "parameters": [{"name": "host"}]}
    with pytest.raises(ValidationError) as caught:
        PlanDocument.model_validate({"name": "p", "jobs": [job]})
    assert "not in its scheme or host" in error_messages(caught.value)[0]


def test_stored_documents_are_read_without_checking_references() -> None:
    """A value written before references existed must not make its plan unreadable."""
    stored = {"name": "p", "parameters": [{"name": "home", "default": "${HOME}/data"}]}
    with pytest.raises(ValidationError):
        PlanDocument.model_validate(stored)
    document = PlanDocument.model_validate(stored, context=STORED_CONTEXT)
    assert document.parameters[0].default == "${HOME}/data"


def test_escaped_text_is_valid_and_means_itself() -> None:
    parameter = Parameter(name="x", default="$${HOME} costs $5")
    assert sub.render(parameter.default, _resolve()) == "${HOME} costs $5"
