"""Plan documents: whole-plan validation, helpers, round trips, schema and public surface."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

import jobplan.model
from jobplan.model import (
    And,
    CommandJob,
    HistoryStrategy,
    JobRef,
    MisfirePolicy,
    OverlapPolicy,
    PlanDocument,
    Stage,
    StageRef,
    TimeJob,
    Window,
    format_location,
)
from jobplan.model.limits import MAX_JOBS, MAX_STAGE_DEPTH

Errors = Callable[[dict[str, Any]], list[str]]
MakePlan = Callable[..., dict[str, Any]]


def _command(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "command", "command": f"echo {name}", **fields}


def _nested_plan() -> dict[str, Any]:
    return {
        "name": "eod",
        "folder": "finance/eod",
        "version": "1.2.0",
        "parameters": [{"name": "region", "default": "eu", "per_environment": True}],
        "window": {"cron": "0 0 1 ? * *", "timezone": "Europe/London", "ttl_seconds": 82800},
        "jobs": [
            {"name": "seven-am", "kind": "time", "cron": "0 0 7 ? * MON-FRI"},
            _command("start", depends_on="seven-am"),
        ],
        "stages": [
            {
                "name": "ingest",
                "depends_on": "start",
                "jobs": [_command("fetch"), _command("parse", depends_on="fetch")],
                "stages": [
                    {
                        "name": "enrich",
                        "depends_on": ["parse"],
                        "jobs": [_command("prices"), _command("fx")],
                    }
                ],
            },
            {
                "name": "publish",
                "depends_on": {"stage": "ingest"},
                "window": {"cron": "0 30 7 ? * *", "ttl_seconds": 3600},
                "jobs": [
                    _command("report", depends_on={"or": ["fx", {"not": "prices"}]}),
                ],
            },
        ],
        "locks": [{"name": "db", "count": 2, "jobs": ["fetch", "report"]}],
    }


def test_minimal_plan_defaults() -> None:
    plan = PlanDocument(name="p")
    assert plan.folder == ""
    assert plan.version is None
    assert plan.enabled
    assert plan.window is None
    assert plan.policies.overlap is OverlapPolicy.SKIP
    assert plan.policies.misfire is MisfirePolicy.RUN_ONCE
    assert plan.policies.history is HistoryStrategy.FULL
    assert plan.policies.max_retries == 0
    assert plan.notifications.on_failure == []
    assert plan.jobs == [] and plan.stages == [] and plan.locks == []


def test_nested_stages_and_helpers() -> None:
    plan = PlanDocument.model_validate(_nested_plan())
    assert plan.path == "finance/eod/eod"
    assert [job.name for job in plan.all_jobs()] == [
        "seven-am",
        "start",
        "fetch",
        "parse",
        "prices",
        "fx",
        "report",
    ]
    assert [stage.name for stage in plan.all_stages()] == ["ingest", "enrich", "publish"]
    assert set(plan.job_index()) == {
        "seven-am",
        "start",
        "fetch",
        "parse",
        "prices",
        "fx",
        "report",
    }
    fx = plan.find_job("fx")
    assert isinstance(fx, CommandJob) and fx.command == "echo fx"
    assert plan.find_job("nope") is None
    enrich = plan.find_stage("enrich")
    assert enrich is not None and enrich.depends_on == And(conditions=[JobRef(job="parse")])
    assert [s.name for s in plan.enclosing_stages("fx")] == ["ingest", "enrich"]
    assert plan.enclosing_stages("start") == ()
    with pytest.raises(KeyError):
        plan.enclosing_stages("nope")
    locations = {entry.name: format_location(entry.loc) for entry in plan.walk()}
    assert locations["fx"] == "stages[0].stages[0].jobs[1]"
    assert locations["publish"] == "stages[1]"
    publish = plan.find_stage("publish")
    assert publish is not None and publish.depends_on == StageRef(stage="ingest")


def test_round_trips() -> None:
    plan = PlanDocument.model_validate(_nested_plan())
    dumped = plan.model_dump(mode="json")
    assert PlanDocument.model_validate(dumped) == plan
    assert PlanDocument.model_validate_json(plan.model_dump_json()) == plan
    assert PlanDocument.model_validate(json.loads(json.dumps(dumped))).model_dump(mode="json") == (
        dumped
    )
    # The explicit form is written back.
    assert dumped["jobs"][1]["depends_on"] == {"job": "seven-am"}
    assert dumped["stages"][0]["stages"][0]["depends_on"] == {"and": [{"job": "parse"}]}


def test_documents_are_immutable() -> None:
    plan = PlanDocument.model_validate(_nested_plan())
    with pytest.raises(ValidationError, match="frozen"):
        plan.name = "other"  # type: ignore[misc]
    bumped = plan.model_copy(update={"version": "1.3.0"})
    assert bumped.version == "1.3.0" and plan.version == "1.2.0"


def test_python_construction() -> None:
    plan = PlanDocument(
        name="hello",
        window=Window(cron="0/10 * * * * ?"),
        jobs=[
            TimeJob(name="tick", cron="0/10 * * * * ?"),
            CommandJob(name="hello", command="echo hello", depends_on=JobRef(job="tick")),
        ],
        stages=[Stage(name="later", depends_on=JobRef(job="hello"))],
    )
    assert PlanDocument.model_validate(plan.model_dump(mode="json")) == plan


@pytest.mark.parametrize(
    ("folder", "normalised"),
    [("", ""), ("finance/eod", "finance/eod"), ("/finance//eod/", "finance/eod"), ("/", "")],
)
def test_folder_is_normalised(folder: str, normalised: str) -> None:
    assert PlanDocument(name="p", folder=folder).folder == normalised


# -- whole-plan validation --------------------------------------------------------------------


def test_duplicate_job_names_across_stages(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(stages=[{"name": "s", "jobs": [_command("extract")]}])
    assert plan_errors(data) == [
        "stages[0].jobs[0].name: duplicate job name 'extract' (also jobs[0])"
    ]


def test_stage_name_must_differ_from_job_names(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(stages=[{"name": "load"}, {"name": "x"}, {"name": "x"}])
    assert plan_errors(data) == [
        "stages[0].name: stage name 'load' is already used by the job at jobs[1]; job and "
        "stage names share one namespace",
        "stages[2].name: duplicate stage name 'x' (also stages[1])",
    ]


def test_unknown_job_in_dependency(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan()
    data["jobs"].append(_command("report", depends_on={"and": ["load", "x"]}))
    assert plan_errors(data) == ["jobs[2].depends_on: unknown job 'x'"]


def test_unknown_job_suggests_a_close_name(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan()
    data["jobs"].append(_command("report", depends_on="extrct"))
    assert plan_errors(data) == [
        "jobs[2].depends_on: unknown job 'extrct' (did you mean 'extract'?)"
    ]


def test_unknown_stage_and_wrong_reference_kind(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(
        stages=[
            {"name": "ingest", "jobs": [_command("fetch")]},
            {"name": "publish", "depends_on": ["ingest", {"stage": "fetch"}, {"stage": "nope"}]},
        ]
    )
    assert plan_errors(data) == [
        "stages[1].depends_on: unknown job 'ingest': 'ingest' is a stage, so write {stage: ingest}",
        "stages[1].depends_on: unknown stage 'fetch': 'fetch' is a job, so write {job: fetch}",
        "stages[1].depends_on: unknown stage 'nope'",
    ]


def test_dependency_cycle_lists_the_cycle(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(
        jobs=[
            _command("a", depends_on="c"),
            _command("b", depends_on="a"),
            _command("c", depends_on=["b", "d"]),
            _command("d"),
        ]
    )
    assert plan_errors(data) == ["jobs[0].depends_on: dependency cycle: a -> c -> b -> a"]


def test_self_dependency_is_a_cycle(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(jobs=[_command("a", depends_on={"not": "a"})])
    assert plan_errors(data) == ["jobs[0].depends_on: dependency cycle: a -> a"]


def test_job_waiting_for_its_own_stage_is_a_cycle(plan_errors: Errors) -> None:
    data = {
        "name": "p",
        "stages": [
            {"name": "s", "jobs": [_command("a"), _command("b", depends_on={"stage": "s"})]}
        ],
    }
    assert plan_errors(data) == [
        "stages[0].jobs[1].depends_on: dependency cycle: b -> s -> b (a stage waits for all of "
        "its jobs, and they wait for the stage's depends_on)"
    ]


def test_stage_waiting_for_a_job_that_waits_for_the_stage(plan_errors: Errors) -> None:
    data = {
        "name": "p",
        "jobs": [_command("outside", depends_on="inner")],
        "stages": [{"name": "s", "depends_on": "outside", "jobs": [_command("inner")]}],
    }
    (line,) = plan_errors(data)
    assert line.startswith("jobs[0].depends_on: dependency cycle: outside -> inner -> outside")


def test_cross_stage_dependencies_without_cycle_are_fine() -> None:
    data = {
        "name": "p",
        "jobs": [_command("first")],
        "stages": [
            {"name": "s1", "jobs": [_command("a", depends_on="first")]},
            {"name": "s2", "depends_on": {"stage": "s1"}, "jobs": [_command("b", depends_on="a")]},
        ],
    }
    PlanDocument.model_validate(data)


def test_lock_errors(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(
        stages=[{"name": "s"}],
        locks=[
            {"name": "db", "count": 0, "jobs": ["load"]},
            {"name": "files", "jobs": ["extract", "nope", "s", "extract"]},
            {"name": "files", "jobs": ["load"]},
        ],
    )
    assert plan_errors(data) == ["locks[0].count: Input should be greater than or equal to 1"]
    data["locks"][0]["count"] = 1
    assert plan_errors(data) == [
        "locks[2].name: duplicate lock name 'files' (also locks[1])",
        "locks[1].jobs[1]: unknown job 'nope'",
        "locks[1].jobs[2]: 's' is a stage; list the jobs that take the lock instead",
        "locks[1].jobs[3]: job 'extract' is listed twice",
    ]


def test_lock_without_jobs(make_plan: MakePlan, plan_errors: Errors) -> None:
    assert plan_errors(make_plan(locks=[{"name": "db", "jobs": []}])) == [
        "locks[0].jobs: List should have at least 1 item after validation, not 0"
    ]


def test_duplicate_parameters(make_plan: MakePlan, plan_errors: Errors) -> None:
    data = make_plan(
        parameters=[{"name": "region"}, {"name": "day"}, {"name": "region"}],
        stages=[{"name": "s", "parameters": [{"name": "x"}, {"name": "x"}]}],
    )
    assert plan_errors(data) == [
        "stages[0].parameters[1].name: duplicate parameter name 'x' (also parameters[0])"
    ]
    del data["stages"]
    assert plan_errors(data) == [
        "parameters[2].name: duplicate parameter name 'region' (also parameters[0])"
    ]


def test_parameter_names_are_environment_variable_names(
    make_plan: MakePlan, plan_errors: Errors
) -> None:
    (line,) = plan_errors(make_plan(parameters=[{"name": "my-param"}]))
    assert line.startswith("parameters[0].name: 'my-param' is not a valid variable name")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, "name: name must not be empty"),
        (
            {"name": "a/b"},
            "name: name 'a/b' contains '/'; use only letters, digits, '_', '.' and '-'",
        ),
        ({"name": ".."}, "name: name '..' is reserved"),
        ({"name": "x" * 101}, "name: name must be at most 100 characters (got 101)"),
        ({"folder": "finance/../hr"}, "folder: folder segment '..' is reserved"),
        (
            {"folder": "finance/e od"},
            "folder: folder segment 'e od' contains ' '; use only letters, digits, '_', '.' "
            "and '-'",
        ),
        (
            {"version": "1.2"},
            "version: invalid version '1.2': expected MAJOR.MINOR.PATCH, such as '1.4.0' (numbers "
            "without leading zeros)",
        ),
        (
            {"version": 1.2},
            "version: version 1.2 is a number; write it as a quoted string such as '1.0.0'",
        ),
        (
            {"enabled": "perhaps"},
            "enabled: Input should be a valid boolean, unable to interpret input",
        ),
        ({"jobz": []}, "jobz: Extra inputs are not permitted"),
        (
            {"window": {"cron": "0 0 1 * * ?", "ttl_seconds": -1}},
            "window.ttl_seconds: Input should be greater than or equal to 1",
        ),
        (
            {"window": {"cron": "0 0 1 * * ?", "timezone": "Mars/Olympus_Mons"}},
            "window.timezone: unknown time zone 'Mars/Olympus_Mons': use an IANA name such as "
            "'Europe/London', 'America/New_York' or 'UTC'",
        ),
        (
            {"window": {"cron": "0 0 1 * * ?", "jitter_seconds": -3}},
            "window.jitter_seconds: Input should be greater than or equal to 0",
        ),
        ({"window": {"timezone": "UTC"}}, "window.cron: Field required"),
        (
            {"window": {"cron": "0 0 1 * * ?", "dst_gap": "fold"}},
            "window.dst_gap: Input should be 'skip' or 'run_at_gap_end'",
        ),
        (
            {"policies": {"overlap": "queue"}},
            "policies.overlap: Input should be 'skip', 'buffer_one', 'buffer_all', 'cancel_other' "
            "or 'allow'",
        ),
        (
            {"policies": {"retry_backoff_seconds": 60, "retry_backoff_max_seconds": 30}},
            "policies.retry_backoff_max_seconds: retry_backoff_max_seconds must not be less than "
            "retry_backoff_seconds (60)",
        ),
        (
            {"policies": {"history": "full"}},
            "policies.history: Input should be 'OFF', 'MINIMAL', 'ERROR' or 'FULL'",
        ),
        (
            {"policies": {"retry_jitter": 2}},
            "policies.retry_jitter: Input should be less than or equal to 1",
        ),
        (
            {"notifications": {"on_failure": ["ops@example.com", "not an address"]}},
            "notifications.on_failure[1]: 'not an address' is neither an email address nor an "
            "http(s) webhook URL",
        ),
        (
            {"notifications": {"on_failure": ["ops@example.com,root"]}},
            "notifications.on_failure[0]: 'ops@example.com,root' is neither an email address nor "
            "an http(s) webhook URL",
        ),
        (
            {"notifications": {"on_success": ["http://hooks.example.com:99999/x"]}},
            "notifications.on_success[0]: 'http://hooks.example.com:99999/x' is neither an email "
            "address nor an http(s) webhook URL",
        ),
    ],
)
def test_field_errors(
    fields: dict[str, Any], expected: str, make_plan: MakePlan, plan_errors: Errors
) -> None:
    assert plan_errors(make_plan(**fields)) == [expected]


def test_bad_window_cron_uses_the_cron_engine_message(
    make_plan: MakePlan, plan_errors: Errors
) -> None:
    (line,) = plan_errors(make_plan(window={"cron": "0 0 25 * * ?"}))
    assert line.startswith("window.cron: invalid cron expression '0 0 25 * * ?': ")


def test_notifications() -> None:
    plan = PlanDocument(
        name="p",
        notifications={
            "on_failure": ["ops@example.com", "https://hooks.example.com/T0/B0"],
            "on_overdue": ["oncall@example.com"],
            "overdue_after_seconds": 7200,
        },
    )
    assert plan.notifications.on_failure[1] == "https://hooks.example.com/T0/B0"


def test_too_many_jobs_is_rejected_quickly(plan_errors: Errors) -> None:
    half = MAX_JOBS // 2 + 1
    data = {
        "name": "big",
        "jobs": [_command(f"a{i}") for i in range(half)],
        "stages": [{"name": "s", "jobs": [_command(f"b{i}") for i in range(half)]}],
    }
    assert plan_errors(data) == [
        f"jobs: a plan may hold at most {MAX_JOBS} jobs, counting those in stages (found "
        f"{2 * half})"
    ]


def test_top_level_list_cap(plan_errors: Errors) -> None:
    data = {"name": "big", "jobs": [_command(f"a{i}") for i in range(MAX_JOBS + 1)]}
    assert plan_errors(data) == [
        f"jobs: List should have at most {MAX_JOBS} items after validation, not {MAX_JOBS + 1}"
    ]


def test_stage_nesting_cap(plan_errors: Errors) -> None:
    stage: dict[str, Any] = {"name": "s0"}
    for depth in range(1, MAX_STAGE_DEPTH + 1):
        stage = {"name": f"s{depth}", "stages": [stage]}
    (line,) = plan_errors({"name": "deep", "stages": [stage]})
    assert line.endswith(f": stages may be nested at most {MAX_STAGE_DEPTH} levels deep")
    assert line.startswith("stages[0]" + ".stages[0]" * MAX_STAGE_DEPTH)


def test_large_plan_validates_in_reasonable_time() -> None:
    jobs = [_command("j0")] + [_command(f"j{i}", depends_on=f"j{i - 1}") for i in range(1, 5000)]
    plan = PlanDocument.model_validate({"name": "chain", "jobs": jobs})
    assert len(plan.job_index()) == 5000


def test_json_schema_is_generated() -> None:
    schema = PlanDocument.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "CommandJob" in schema["$defs"]
    name = schema["properties"]["name"]
    assert name["pattern"] == r"^[A-Za-z0-9_.\-]+$"
    assert "description" in schema["$defs"]["Window"]["properties"]["cron"]
    output = PlanDocument.model_json_schema(mode="serialization")
    assert "PlanDocument" in output["title"]


def test_public_surface() -> None:
    assert sorted(jobplan.model.__all__) == sorted(
        [
            "STORED_CONTEXT",
            "And",
            "Blackout",
            "CalendarDays",
            "CalendarDocument",
            "CalendarMode",
            "Change",
            "ChangeKind",
            "CommandJob",
            "Condition",
            "DstGap",
            "EventJob",
            "FileJob",
            "FolderPath",
            "HistoryStrategy",
            "HttpJob",
            "HttpMethod",
            "Job",
            "JobAction",
            "JobKind",
            "JobRef",
            "JobRunStatus",
            "Located",
            "Lock",
            "MisfirePolicy",
            "Name",
            "Not",
            "Notifications",
            "OnError",
            "Or",
            "OverlapPolicy",
            "Parameter",
            "PlanDocument",
            "PlanRunStatus",
            "Policies",
            "Role",
            "SemVer",
            "Stage",
            "StageRef",
            "StartOutcome",
            "StartupControl",
            "StatusSpec",
            "TimeJob",
            "Window",
            "diff_plans",
            "error_messages",
            "format_location",
            "latest_matching",
            "parse_condition",
            "plan_path",
        ]
    )
    for name in jobplan.model.__all__:
        assert getattr(jobplan.model, name) is not None


def test_long_cycles_are_shortened(plan_errors: Errors) -> None:
    jobs = [_command("j0", depends_on="j99")] + [
        _command(f"j{i}", depends_on=f"j{i - 1}") for i in range(1, 100)
    ]
    (line,) = plan_errors({"name": "ring", "jobs": jobs})
    assert line == (
        "jobs[0].depends_on: dependency cycle: j0 -> j99 -> j98 -> j97 -> j96 -> j95 -> j94 -> "
        "j93 -> j92 -> j91 -> ... (81 more) -> j9 -> j8 -> j7 -> j6 -> j5 -> j4 -> j3 -> j2 -> "
        "j1 -> j0"
    )
