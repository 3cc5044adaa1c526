"""Reading back one job of each shape writes the same bytes as reading back every job.

Bundles of generated plans — jobs of every kind, fields varied from small pools so that
shapes repeat while names, commands, agents, paths and dependencies differ — are written
with the shortcut and without it (every job read back), plain and with tokens, and compared
byte for byte; so are the errors of plans the writer refuses.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jobplan.bundle import BundleError, BundlePlan, TokenSpec, read_bundle, write_bundle
from jobplan.bundle import writer as writer_module
from jobplan.bundle._render import render_plan
from jobplan.bundle._shapes import JobShapes, job_shape
from jobplan.model import PlanDocument

TEXTS = ["x", "./run", " spaced out ", "[[not.a.token]]", "é ü", "x\ny", "a-b"]
AGENTS = [None, None, "a", "b", "a-b", "GLOBAL_EVENT"]
CRONS = ["0 0 7 ? * *", "0 0/5 * * * ?"]
ZONES = ["UTC", "Europe/Paris", "Asia/Tokyo"]
BLACKOUTS: list[list[dict[str, Any]]] = [
    [],
    [{"cron": "* * 0-5 ? * SUN"}],
    [{"cron": "* * 0-5 ? * SUN", "description": "night"}],
    [{"start": "2025-12-24T00:00:00", "end": "2025-12-27T00:00:00"}],
    [{"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00.5Z"}],
]
SECONDS = [None, None, 0, 0.5, 1, 10, 2.25]


@st.composite
def _profile(draw: st.DrawFn) -> dict[str, Any]:
    """Fields many jobs of an export share (so that their shapes repeat)."""
    job: dict[str, Any] = {
        "description": draw(st.sampled_from(["", "", "about it", " ", "[[x]]"])),
        "startup": draw(st.sampled_from(["automatic", "automatic", "manual", "disabled"])),
        "timeout_seconds": draw(st.sampled_from([None, None, 30])),
        "max_retries": draw(st.sampled_from([None, None, 0, 2])),
    }
    low, high = draw(st.sampled_from(SECONDS)), draw(st.sampled_from(SECONDS))
    if low is not None and high is not None and low > high:
        low, high = high, low
    job["min_execution_seconds"] = low
    job["max_execution_seconds"] = None if high == 0 else high
    if draw(st.booleans()):
        job["parameters"] = [
            {
                "name": "P",
                "default": draw(st.sampled_from(["v", "", "[[v]]"])),
                "description": draw(st.sampled_from(["", "why"])),
                "per_environment": draw(st.booleans()),
            }
        ]
    return job


@st.composite
def _job(draw: st.DrawFn, name: str, profiles: list[dict[str, Any]]) -> dict[str, Any]:
    job = {"name": name, **draw(st.sampled_from(profiles))}
    job["agent"] = draw(st.sampled_from(AGENTS))
    kind = draw(st.sampled_from(["command", "command", "command", "time", "file", "event", "http"]))
    job["kind"] = kind
    if kind == "command":
        job["command"] = f"{draw(st.sampled_from(TEXTS))} {name}"
        job["working_directory"] = draw(st.sampled_from([None, None, "/tmp", "/x y"]))
        job["success_exit_codes"] = draw(st.sampled_from([[0], [0], [1, 0], [3]]))
        job["environment"] = draw(st.sampled_from([{}, {}, {"LANG": "C"}]))
    elif kind == "time":
        job["cron"] = draw(st.sampled_from(CRONS))
        job["timezone"] = draw(st.sampled_from(ZONES))
        job["blackouts"] = draw(st.sampled_from(BLACKOUTS))
        job["dst_gap"] = draw(st.sampled_from(["skip", "skip", "run_at_gap_end"]))
    elif kind == "file":
        job["path"] = draw(st.sampled_from(["/in", "/data x", f"/in/{name}"]))
        job["patterns"] = draw(st.sampled_from([["*.csv"], ["a?b", "*.txt"], [f"{name}.*"]]))
        job["min_age_seconds"] = draw(st.sampled_from([0, 5]))
        job["poll_cron"] = draw(st.sampled_from(["0 * * * * ?", *CRONS]))
        job["timezone"] = draw(st.sampled_from(ZONES))
        job["move_to"] = draw(st.sampled_from([None, "/done"]))
        job["depth"] = draw(st.sampled_from([1, 3]))
    elif kind == "event":
        job["event"] = draw(st.sampled_from([name, name, "ev-a", "ev-b"]))
    else:
        if draw(st.booleans()):
            job["url"] = draw(st.sampled_from(["https://a.example/x", f"https://b.example/{name}"]))
        else:
            job["service"] = draw(st.sampled_from(["rates", "fx"]))
            job["operation"] = draw(st.sampled_from([None, "refresh"]))
        job["method"] = draw(st.sampled_from(["GET", "POST"]))
        job["headers"] = draw(st.sampled_from([{}, {"X-A": "1"}]))
        job["body"] = draw(st.sampled_from([None, "text", {"k": [1, "two", None]}]))
        job["expected_statuses"] = draw(st.sampled_from([["2xx"], ["2xx", 409], [204]]))
    return job


def _condition(draw: st.DrawFn, earlier: list[str], stages: list[str]) -> Any:
    """A condition on jobs defined before (no cycles), and on ``stages``."""
    if not earlier:
        return None
    pick = st.sampled_from(earlier)
    a, b = draw(pick), draw(pick)  # often the same job: repeated operands
    stage = {"stage": draw(st.sampled_from(stages))} if stages else b
    return draw(
        st.sampled_from(
            [
                None,
                a,
                [a, b],
                [a, b, a],
                {"and": [a, {"not": b}]},
                {"or": [a, {"not": b}]},
                {"or": [a, b]},
                {"or": [a, stage]},
                {"and": [a, stage]},
                {"not": a},
                {"and": [a, {"or": [a, b]}]},
                {"or": [{"and": [a, b]}, {"not": {"or": [b]}}]},
            ]
        )
    )


@st.composite
def _plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One to three plans of jobs built from one or two profiles."""
    profiles = draw(st.lists(_profile(), min_size=1, max_size=2))
    plans = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        count = draw(st.integers(min_value=1, max_value=12))
        stage_names = [f"s{i}" for i in range(draw(st.integers(min_value=0, max_value=2)))]
        names = [f"j{i}" for i in range(count)]
        jobs = [draw(_job(job_name, profiles)) for job_name in names]
        homes = [draw(st.sampled_from([None, None, *stage_names])) for _ in names]
        for position, job in enumerate(jobs):
            # top-level jobs may wait for stages that hold no job they come before
            later = {home for home in homes[position:] if home is not None}
            stages = [s for s in stage_names if s not in later] if homes[position] is None else []
            condition = _condition(draw, names[:position], stages)
            if condition is not None:
                job["depends_on"] = condition
        plans.append(
            {
                "name": f"p{index}",
                "folder": draw(st.sampled_from(["a", "b/c"])),
                "jobs": [job for job, home in zip(jobs, homes, strict=True) if home is None],
                "stages": [
                    {
                        "name": stage,
                        "jobs": [
                            job for job, home in zip(jobs, homes, strict=True) if home == stage
                        ],
                    }
                    for stage in stage_names
                ],
            }
        )
    return plans


def _documents(data: list[dict[str, Any]]) -> list[PlanDocument]:
    try:
        return [PlanDocument.model_validate(item) for item in data]
    except ValidationError:
        assume(False)
        raise


def _write(plans: list[PlanDocument], shortcut: bool, **options: Any) -> bytes | str:
    """The bundle's bytes, or the error the writer raised."""
    out = io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:
        if not shortcut:
            patch.setattr(
                writer_module,
                "render_plan",
                lambda plan, key, opts, shapes: render_plan(plan, key, opts, None),
            )
        try:
            write_bundle(
                [BundlePlan(plan) for plan in plans],
                out,
                source_tenant="t",
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
                **options,
            )
        except BundleError as exc:
            return str(exc)
    return out.getvalue()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(_plans())
def test_the_shortcut_writes_the_same_bytes(data: list[dict[str, Any]]) -> None:
    plans = _documents(data)
    for options in ({}, {"with_tokens": True, "tokens": TokenSpec(context_name="token")}):
        fast = _write(plans, True, **options)
        assert fast == _write(plans, False, **options)
    plain = _write(plans, True)
    if isinstance(plain, bytes):
        back = read_bundle(io.BytesIO(plain)).plans
        assert sorted((p.document.folder, p.document.name) for p in back) == sorted(
            (p.folder, p.name) for p in plans
        )
        assert {p.document.name: p.document for p in back} == {
            p.name: p.model_copy(update={"version": None}) for p in plans
        }


def _command(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "command", "command": f"./run {name}", **extra}


def test_jobs_of_one_shape_across_plans() -> None:
    """Many plans of alike jobs: one job of each shape is read back for the whole export,
    and every job still gets its own values in its extension."""
    plans = [
        PlanDocument.model_validate(
            {
                "name": f"p{p}",
                "folder": "f",
                "jobs": [
                    _command("a", timeout_seconds=10 + p, agent=f"agent-{p % 2}"),
                    _command("b", depends_on="a", min_execution_seconds=0.5 + p),
                    _command("c", depends_on={"not": "b"}, environment={"P": str(p)}),
                    {"name": "e", "kind": "event", "event": "a" if p % 2 else "e"},
                ],
            }
        )
        for p in range(6)
    ]
    assert _write(plans, True) == _write(plans, False)
    back = read_bundle(io.BytesIO(_write(plans, True))).plans  # type: ignore[arg-type]
    assert [p.document for p in back] == [p.model_copy(update={"version": None}) for p in plans]


def test_a_refused_plan_is_refused_the_same() -> None:
    """Two jobs with one Ikasan identifier (agent ``a`` + ``b-c``, and ``a-b-c``)."""
    plan = PlanDocument.model_validate(
        {
            "name": "p",
            "jobs": [
                _command("a-b-c"),
                _command("b-c", agent="a"),
                _command("z", depends_on="a-b-c"),
                _command("y", depends_on="b-c"),
            ],
        }
    )
    refused = _write([plan], True)
    assert isinstance(refused, str) and "identifier" in refused
    assert refused == _write([plan], False)


def test_shapes_tell_values_apart() -> None:
    def shape(**fields: Any) -> Any:
        job = PlanDocument.model_validate(
            {"name": "p", "jobs": [_command("x"), _command("y", **fields)]}
        ).jobs[1]
        return job_shape(type(job), job.model_dump(mode="json"))

    assert shape(agent="a") == shape(agent="b")
    assert shape(depends_on="x") == shape(depends_on={"job": "x"})
    assert shape(min_execution_seconds=1) != shape(min_execution_seconds=1.5)
    assert shape(success_exit_codes=[1]) != shape(success_exit_codes=[0])
    assert shape(environment={"A": "1"}) != shape(environment={"A": "2"})
    assert shape(depends_on="x") != shape(depends_on={"not": "x"})
    assert shape(working_directory="/a") != shape()
    shapes = JobShapes()
    assert shapes.fields(shape()) is None
    shapes.learn(shape(), ("timeout_seconds",))
    assert shapes.fields(shape(agent="a")) is None
    assert shapes.fields(shape()) == ("timeout_seconds",)


# Every field of every kind, value against value: jobs that differ in one field only, in
# one plan (so that the first of a shape is read back and the others are not).

_BASE: dict[str, dict[str, Any]] = {
    "command": {"kind": "command", "command": "./run"},
    "time": {"kind": "time", "cron": CRONS[0]},
    "file": {"kind": "file", "path": "/in", "patterns": ["*.csv"]},
    "event": {"kind": "event", "event": "ev"},
    "http": {"kind": "http", "url": "https://a.example/x"},
}
_CONDITIONS = [
    None,
    "p0",
    ["p0", "p1"],
    ["p0", "p0"],
    ["p1", "p0", "p1"],
    {"and": ["p0", {"not": "p1"}]},
    {"or": ["p0", {"not": "p1"}]},
    {"or": ["p0", "p1"]},
    {"or": ["p0", "p0"]},
    {"or": ["p0", {"stage": "s"}]},
    {"and": ["p0", {"stage": "s"}]},
    {"stage": "s"},
    {"not": "p0"},
    {"and": ["p0", {"or": ["p0", "p1"]}]},
    {"and": ["p1", {"or": ["p0", "p1"]}]},
    {"or": [{"and": ["p0", "p1"]}, {"not": {"or": ["p1"]}}]},
    {"or": [{"and": ["p0", "p1"]}, {"not": {"or": ["p0"]}}]},
]
_COMMON: dict[str, list[Any]] = {
    "description": ["", " ", "d", "[[x]]", "{name}"],
    "startup": ["automatic", "manual", "disabled"],
    "timeout_seconds": [None, 30, 31],
    "max_retries": [None, 0, 2],
    "min_execution_seconds": [None, 0, 0.5, 1, 10, 10.5],
    "max_execution_seconds": [None, 1, 2.25, 10],
    "agent": [None, "a", "b", "GLOBAL_EVENT", "p0", "{name}"],
    "depends_on": _CONDITIONS,
    "parameters": [
        [],
        [{"name": "P", "default": "v"}],
        [{"name": "P", "default": "v", "description": "why", "per_environment": True}],
        [{"name": "P", "default": "[[v]]", "per_environment": True}],
    ],
}
_FIELDS: dict[str, dict[str, list[Any]]] = {
    "command": {
        "command": ["x", "x {name}", " y ", "{name}"],
        "working_directory": [None, "/tmp", "/x y", "{name}"],
        "success_exit_codes": [[0], [1, 0], [0, 1], [3]],
        "environment": [{}, {"A": "1"}, {"A": "2"}],
    },
    "time": {
        "cron": CRONS,
        "timezone": ZONES,
        "blackouts": BLACKOUTS,
        "dst_gap": ["skip", "run_at_gap_end"],
    },
    "file": {
        "path": ["/in", "/data x", "{name}"],
        "patterns": [["*.csv"], ["a?b", "*.txt"], ["{name}"], ["x", "x"]],
        "min_age_seconds": [0, 5],
        "poll_cron": ["0 * * * * ?", *CRONS],
        "timezone": ZONES,
        "move_to": [None, "/done", "{name}"],
        "depth": [1, 3],
    },
    "event": {"event": ["ev", "{name}", "p0", "p1"]},
    "http": {
        "url": ["https://a.example/x", "https://b.example/{name}"],
        "method": ["GET", "POST"],
        "headers": [{}, {"X-A": "1"}],
        "body": [None, "text", {"k": [1, "two", None]}],
        "expected_statuses": [["2xx"], ["2xx", 409], [204]],
    },
}


def _variant(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace("{name}", name)
    if isinstance(value, list):
        return [_variant(item, name) for item in value]
    return value


@pytest.mark.parametrize(
    ("kind", "field"),
    [(kind, field) for kind in _BASE for field in [*_COMMON, *_FIELDS[kind]]],
)
def test_jobs_differing_in_one_field(kind: str, field: str) -> None:
    values = {**_COMMON, **_FIELDS[kind]}[field]
    for ordered in (values, values[::-1]):
        jobs = [_command("p0"), _command("p1")]
        for index, value in enumerate(ordered * 2):  # each value twice, with other names
            name = f"v{index}"
            job = {**_BASE[kind], "name": name, field: _variant(value, name)}
            if kind == "event" and field != "event":
                job["event"] = name
            jobs.append(job)
        plan = PlanDocument.model_validate(
            {"name": "p", "jobs": jobs, "stages": [{"name": "s", "jobs": [_command("in-s")]}]}
        )
        for options in ({}, {"with_tokens": True}):
            assert _write([plan], True, **options) == _write([plan], False, **options), (
                f"{kind}.{field}: {ordered}"
            )
