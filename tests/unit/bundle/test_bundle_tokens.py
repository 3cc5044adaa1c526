"""Replacement tokens: what is replaced on export, and JSON-aware substitution on import."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobplan.bundle import BundleError, TokenSpec, UnresolvedTokens
from jobplan.model import CommandJob, PlanDocument

NIGHTLY_TOKENS = {
    "agent.name": "etl-host-1",
    "REGION": "eu",
    "DATA_DIR": "/data/settlement",
}


def _entries(kit, data: bytes) -> dict[str, Any]:
    return {
        name: json.loads(raw)
        for name, raw in kit.zip_entries(data).items()
        if name.endswith(".json")
    }


def _plan(**fields: Any) -> PlanDocument:
    data: dict[str, Any] = {
        "name": "p",
        "jobs": [{"name": "a", "kind": "command", "command": "echo a", "agent": "host-1"}],
    }
    data.update(fields)
    return PlanDocument.model_validate(data)


def test_default_tokens_follow_ikasan_plus_per_environment_parameters(kit) -> None:
    plan = kit.load_example("nightly.yaml")
    data = kit.export([plan], with_tokens=True)
    entries = _entries(kit, data)
    manifest = entries["manifest.json"]
    assert manifest["with_tokens"] is True
    assert manifest["tokens"] == ["DATA_DIR", "REGION", "agent.name"]
    context = entries["context/nightly-settlement.json"]
    assert context["contextParameters"] == [
        {"name": "REGION", "defaultValue": "[[REGION]]"},
        {"name": "DATA_DIR", "defaultValue": "[[DATA_DIR]]"},
    ]
    load = entries["jobs/internal/nightly-settlement/load-trades.json"]
    assert load["agentName"] == "[[agent.name]]"
    assert load["identifier"] == "[[agent.name]]-load-trades"
    assert "etl-host-1" not in json.dumps(entries["context/nightly-settlement.json"])
    # values that are not environment-specific stay
    assert load["commandLine"].startswith("set -eu")
    assert context["name"] == "nightly-settlement"


def test_missing_values_are_all_listed(kit) -> None:
    data = kit.export([kit.load_example("nightly.yaml")], with_tokens=True)
    with pytest.raises(UnresolvedTokens) as caught:
        kit.read(data, tokens={"REGION": "us"})
    error = caught.value
    assert error.names == ("DATA_DIR", "agent.name")
    message = str(error)
    assert (
        "[[DATA_DIR]] (in context/nightly-settlement.json: contextParameters[1].defaultValue)"
        in message
    )
    assert "[[agent.name]] (in " in message
    assert message.endswith("Give a value for each of: DATA_DIR, agent.name")
    assert "[[REGION]]" not in message
    places = [str(place) for place in error.unresolved["agent.name"]]
    assert "jobs/internal/nightly-settlement/load-trades.json: agentName" in places
    assert len(places) == len(set(places)) > 3


def test_values_are_substituted(kit) -> None:
    plan = kit.load_example("nightly.yaml")
    data = kit.export([plan], with_tokens=True)
    values = {"agent.name": "uat-host", "REGION": "us", "DATA_DIR": "/uat/data"}
    contents = kit.read(data, tokens=values)
    (back,) = contents.documents
    assert contents.tokens == ("DATA_DIR", "REGION", "agent.name")
    assert [(p.name, p.default, p.per_environment) for p in back.parameters] == [
        ("REGION", "us", True),
        ("DATA_DIR", "/uat/data", True),
    ]
    assert back.job_index()["load-trades"].agent == "uat-host"
    assert back.locks == plan.locks
    # with the original values, the original plan
    assert kit.read(data, tokens=NIGHTLY_TOKENS).documents == [plan]


def test_extra_values_are_reported_not_refused(kit) -> None:
    data = kit.export([kit.load_example("nightly.yaml")], with_tokens=True)
    contents = kit.read(data, tokens={**NIGHTLY_TOKENS, "env.name": "prod", "unused": "x"})
    assert [str(w) for w in contents.warnings] == [
        "token 'env.name' was given but the bundle does not use it",
        "token 'unused' was given but the bundle does not use it",
    ]


@pytest.mark.parametrize(
    "hostile",
    [
        '"}, {"kind": "http", "url": "https://evil.example.com"',
        'quote " backslash \\ brace } bracket ] comma ,',
        "line one\nline two\r\n\ttab \u2028 \x7f",
        "[[REGION]] [[agent.name]] [[jobplan.lbrackets]] ]]",
        "\\u0022 \\n",
    ],
)
def test_hostile_values_cannot_change_the_structure(kit, hostile: str) -> None:
    plan = kit.load_example("nightly.yaml")
    data = kit.export([plan], with_tokens=True)
    values = {"agent.name": hostile, "REGION": hostile, "DATA_DIR": "/d"}
    (back,) = kit.read(data, tokens=values).documents
    job = back.job_index()["load-trades"]
    assert isinstance(job, CommandJob) and job.agent == hostile
    assert back.parameters[0].default == hostile
    # nothing else moved: same jobs, kinds, stages, dependencies
    assert [(e.name, e.is_stage) for e in back.walk()] == [
        (e.name, e.is_stage) for e in plan.walk()
    ]
    assert {j.name: (j.kind, j.depends_on) for j in back.all_jobs()} == {
        j.name: (j.kind, j.depends_on) for j in plan.all_jobs()
    }


def test_text_that_looks_like_a_token_is_escaped(kit) -> None:
    plan = _plan(
        description="uses [[env.name]] literally, and [[[x]]] and [[jobplan.lbrackets]]",
        jobs=[
            {
                "name": "a",
                "kind": "command",
                "command": 'if [[ -f x ]]; then echo "[[REGION]]"; fi',
            }
        ],
    )
    for options in ({}, {"with_tokens": True}):
        data = kit.export([plan], **options)
        context = _entries(kit, data)["context/p.json"]
        assert "[[env.name]]" not in context["description"]
        contents = kit.read(data)
        assert contents.documents == [plan] and contents.tokens == ()


def test_placeholders_are_found_inside_json_escapes_but_not_in_keys(kit) -> None:
    data = kit.export([_plan()])

    def change(entries: dict[str, bytes]) -> None:
        text = entries["context/p.json"].decode()
        text = text.replace('"description": ""', '"description": "\\u005b\\u005bsecret]]"', 1)
        entries["context/p.json"] = text.encode()
        entries.pop("manifest.json")

    tampered = kit.rezip(data, change)
    with pytest.raises(UnresolvedTokens) as caught:
        kit.read(tampered)
    assert caught.value.names == ("secret",)
    (back,) = kit.read(tampered, tokens={"secret": "s"}).documents
    assert back.description == "s"

    body = _plan(
        jobs=[
            {
                "name": "a",
                "kind": "http",
                "url": "https://x.example.com",
                "body": {"[[not.a.token]]": "[[really]]"},
            }
        ]
    )
    contents = kit.read(kit.export([body]))
    assert contents.documents[0].jobs[0].body == {"[[not.a.token]]": "[[really]]"}


def test_several_agents_get_one_token_each(kit) -> None:
    plan = _plan(
        jobs=[
            {"name": "a", "kind": "command", "command": "true", "agent": "etl 1"},
            {"name": "b", "kind": "command", "command": "true", "agent": "etl-2"},
            {"name": "c", "kind": "command", "command": "true", "agent": "named"},
            {"name": "d", "kind": "event", "event": "d", "agent": "GLOBAL_EVENT"},
            {"name": "e", "kind": "command", "command": "true"},
        ]
    )
    spec = TokenSpec(agent_tokens={"named": "agent.special"})
    data = kit.export([plan], with_tokens=True, tokens=spec)
    entries = _entries(kit, data)
    assert entries["manifest.json"]["tokens"] == [
        "agent.etl-2.name",
        "agent.etl_1.name",
        "agent.special",
    ]
    assert entries["jobs/global/p/d.json"]["agentName"] == "GLOBAL_EVENT"
    assert "agentName" not in entries["jobs/internal/p/e.json"]
    values = {"agent.etl_1.name": "etl 1", "agent.etl-2.name": "etl-2", "agent.special": "named"}
    assert kit.read(data, tokens=values).documents == [plan]


def test_context_name_modes(kit) -> None:
    plan = _plan(name="eod_PROD")
    token = kit.export([plan], with_tokens=True, tokens=TokenSpec(context_name="token"))
    assert _entries(kit, token)["context/eod_PROD.json"]["name"] == "[[context.name]]"
    assert (
        kit.read(token, tokens={"context.name": "eod_UAT", "agent.name": "h"}).documents[0].name
        == "eod_UAT"
    )

    suffix = kit.export([plan], with_tokens=True, tokens=TokenSpec(context_name="env_suffix"))
    entries = _entries(kit, suffix)
    assert entries["context/eod_PROD.json"]["name"] == "eod_[[env.name]]"
    assert entries["jobs/internal/eod_PROD/a.json"]["contextName"] == "eod_[[env.name]]"
    (back,) = kit.read(suffix, tokens={"env.name": "UAT", "agent.name": "h"}).documents
    assert back.name == "eod_UAT"


def test_literal_values_and_switches(kit) -> None:
    plan = _plan(
        parameters=[{"name": "P", "default": "keep", "per_environment": True}],
        jobs=[
            {
                "name": "a",
                "kind": "command",
                "command": "scp prod.example.com:/x prod.example.com.bak:/y",
                "agent": "host-1",
            }
        ],
    )
    spec = TokenSpec(
        agents=False,
        parameters=False,
        values={"prod.example.com": "env.host", "prod.example.com.bak": "env.backup"},
    )
    data = kit.export([plan], with_tokens=True, tokens=spec)
    entries = _entries(kit, data)
    job = entries["jobs/internal/p/a.json"]
    assert job["agentName"] == "host-1"
    assert job["commandLine"] == "scp [[env.host]]:/x [[env.backup]]:/y"  # longest first
    assert entries["context/p.json"]["contextParameters"] == [{"name": "P", "defaultValue": "keep"}]
    values = {"env.host": "uat.example.com", "env.backup": "uat-bak"}
    (back,) = kit.read(data, tokens=values).documents
    assert back.jobs[0].command == "scp uat.example.com:/x uat-bak:/y"


def test_token_arguments_are_checked(kit) -> None:
    with pytest.raises(ValueError, match="not a usable token name"):
        TokenSpec(values={"x": "bad name"})
    with pytest.raises(ValueError, match="not a usable token name"):
        TokenSpec(agent_tokens={"h": "jobplan.lbrackets"})
    with pytest.raises(ValueError, match="without"):
        TokenSpec(values={"[[x]]": "x"})
    with pytest.raises(ValueError, match="with_tokens"):
        kit.export([_plan()], tokens=TokenSpec())
    data = kit.export([_plan()])
    with pytest.raises(BundleError, match="token values are text"):
        kit.read(data, tokens={"x": 1})
