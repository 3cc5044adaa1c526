"""Reading real Ikasan exports (the two fixtures) and synthetic ones covering Ikasan's fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobplan.bundle import BundleSchemaError, UnresolvedTokens
from jobplan.model import (
    CommandJob,
    EventJob,
    FileJob,
    PlanDocument,
    StartupControl,
    TimeJob,
    parse_condition,
)

DEFECT_JOBS = {
    "SampleCommandExecutionJob1",
    "SampleCommandExecutionJob3",
    "SampleCommandExecutionJob4",
    "SampleCommandExecutionJob6",
}


def _simplified(condition: Any) -> Any:
    """A condition in explicit form with single-operand and/or unwrapped."""
    if isinstance(condition, dict):
        for key in ("and", "or"):
            if key in condition:
                items = [_simplified(item) for item in condition[key]]
                return items[0] if len(items) == 1 else {key: items}
        if "not" in condition:
            return {"not": _simplified(condition["not"])}
    return condition


def normalised(plan: PlanDocument) -> dict[str, Any]:
    """The plan as data, conditions simplified: ``[a]`` (and of one) equals ``a``."""

    def visit(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: _simplified(value) if key == "depends_on" else visit(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node

    result: dict[str, Any] = visit(plan.model_dump(mode="json"))
    return result


# --- the real exports -------------------------------------------------------------------------


def test_plain_export_is_the_hand_written_example(ikasan_dir, kit) -> None:
    contents = kit.read((ikasan_dir / "MyFirstJobPlan.zip").read_bytes())
    expected = kit.load_example("my-first-job-plan.yaml")

    assert contents.source == "ikasan"
    assert contents.manifest is None
    assert contents.root_folder == "1689090642324-MyFirstJobPlan"
    assert contents.warnings == []
    (plan,) = contents.documents
    # Ikasan writes every dependency as an 'and' list; the example writes one of them as a
    # bare name. The same condition, so: equivalent, and equal once conditions are simplified.
    assert plan.diff(expected) == []
    assert normalised(plan) == normalised(expected)


def test_plain_export_mapping_details(ikasan_dir, kit) -> None:
    (plan,) = kit.read((ikasan_dir / "MyFirstJobPlan.zip").read_bytes()).documents
    assert plan.name == "MyFirstJobPlan" and plan.folder == ""
    assert plan.window is not None
    assert (plan.window.cron, plan.window.ttl_seconds) == ("0 0 1 ? * * *", 82800)
    assert plan.policies.overlap == "allow"  # ableToRunConcurrently: true
    script, global_context = plan.stages
    assert script.window is None  # contextTtlMilliseconds 0, no timeWindowStart
    assert global_context.window is not None and global_context.window.ttl_seconds == 82800
    # a job listed in several contexts is defined where its own dependencies are declared
    assert [job.name for job in plan.jobs] == ["7amScheduledEvent", "SampleCommandExecutionJob1"]
    assert "SampleCommandExecutionJob6" in [job.name for job in script.jobs]
    assert [job.name for job in global_context.jobs] == ["GlobalEventJob1"]
    jobs = plan.job_index()
    command = jobs["SampleCommandExecutionJob1"]
    assert isinstance(command, CommandJob)
    # minExecutionTime 10 next to 'sleep 10': seconds
    assert (command.min_execution_seconds, command.max_execution_seconds) == (10, 1_000_000)
    assert command.success_exit_codes == [0] and command.working_directory is None
    assert [(p.name, p.default) for p in command.parameters] == [
        ("sample_param", "sample default value")
    ]
    gate = jobs["7amScheduledEvent"]
    assert isinstance(gate, TimeJob) and (gate.cron, gate.timezone) == ("* * 7 ? * * *", "UTC")
    watcher = jobs["FileWatcherJob1"]
    assert isinstance(watcher, FileJob)
    assert (watcher.path, watcher.patterns, watcher.min_age_seconds, watcher.depth) == (
        "the file path",
        ["file.1.txt"],
        30,
        1,
    )
    assert watcher.poll_cron == "0 0/1 * * * ?"
    event = jobs["GlobalEventJob1"]
    assert isinstance(event, EventJob) and event.event == "GlobalEventJob1"
    assert event.agent == "GLOBAL_EVENT"
    assert str(jobs["SampleCommandExecutionJob3"].depends_on) == (
        "SampleCommandExecutionJob2 and SampleCommandExecutionJob7 and FileWatcherJob1"
    )
    (lock,) = plan.locks
    assert (lock.name, lock.count, lock.jobs) == (
        "MyFirstLock",
        1,
        ["SampleCommandExecutionJob7", "SampleCommandExecutionJob2"],
    )


def test_folder_argument_places_ikasan_plans(ikasan_dir, kit) -> None:
    data = (ikasan_dir / "MyFirstJobPlan.zip").read_bytes()
    (plan,) = kit.read(data, folder="/imports//ikasan/").documents
    assert plan.folder == "imports/ikasan"


def test_token_export_lists_every_missing_value(ikasan_dir, kit) -> None:
    data = (ikasan_dir / "MyFirstJobPlanWithTokens.zip").read_bytes()
    with pytest.raises(UnresolvedTokens) as caught:
        kit.read(data)
    error = caught.value
    assert error.names == ("agent.name", "context.name")
    assert "[[agent.name]]" in str(error) and "[[context.name]]" in str(error)
    places = {str(place) for place in error.unresolved["context.name"]}
    assert "context/MyFirstJobPlan.json: name" in places
    assert "jobs/internal/SampleCommandExecutionJob1.json: contextName" in places
    agent_places = {str(place) for place in error.unresolved["agent.name"]}
    assert "context/MyFirstJobPlan.json: scheduledJobs[0].agentName" in agent_places
    assert "jobs/quartz/7amScheduledEvent.json: identifier" in agent_places
    # only half the values: the other one is still reported
    with pytest.raises(UnresolvedTokens) as caught:
        kit.read(data, tokens={"agent.name": "scheduler-agent"})
    assert caught.value.names == ("context.name",)


def test_token_export_with_its_values(ikasan_dir, kit) -> None:
    data = (ikasan_dir / "MyFirstJobPlanWithTokens.zip").read_bytes()
    tokens = {"agent.name": "scheduler-agent", "context.name": "MyFirstJobPlan"}
    contents = kit.read(data, tokens=tokens)
    (plan,) = contents.documents
    assert contents.tokens == ("agent.name", "context.name")
    plain = kit.read((ikasan_dir / "MyFirstJobPlan.zip").read_bytes()).documents[0]

    # Everything but dependencies is as in the plain export. This Ikasan version's token export
    # overwrote every logicalGrouping identifier of a context with the context's last job, so
    # the dependencies it carries are not the plan's; the reader says so instead of guessing.
    def without_dependencies(document: PlanDocument) -> dict[str, Any]:
        return {
            "plan": document.model_dump(mode="json", exclude={"jobs", "stages"}),
            "jobs": {
                job.name: job.model_dump(mode="json", exclude={"depends_on"})
                for job in document.all_jobs()
            },
            "layout": [(entry.name, [p.name for p in entry.parents]) for entry in document.walk()],
        }

    assert without_dependencies(plan) == without_dependencies(plain)
    changed = {
        change.path.split(".")[1] for change in plain.diff(plan) if change.path.startswith("jobs.")
    }
    assert changed == DEFECT_JOBS
    jobs = plan.job_index()
    assert jobs["SampleCommandExecutionJob1"].depends_on is None  # it depended on itself
    for name in ("SampleCommandExecutionJob3", "SampleCommandExecutionJob4"):
        assert jobs[name].depends_on == parse_condition("SampleCommandExecutionJob1")
    assert jobs["GlobalEventJob1"].depends_on == parse_condition("SampleCommandExecutionJob6")
    messages = [str(warning) for warning in contents.warnings]
    assert any("'ScriptProcessingContext': every dependency names" in m for m in messages)
    assert any("'MyFirstJobPlan': every dependency names" in m for m in messages)
    assert not any("'MyGlobalEventContext'" in m for m in messages)
    assert any("depends on itself" in m for m in messages)


def test_token_export_into_another_environment(ikasan_dir, kit) -> None:
    data = (ikasan_dir / "MyFirstJobPlanWithTokens.zip").read_bytes()
    contents = kit.read(data, tokens={"agent.name": "uat-agent", "context.name": "Plan_UAT"})
    (plan,) = contents.documents
    assert plan.name == "Plan_UAT"
    agents = {job.name: job.agent for job in plan.all_jobs()}
    assert agents.pop("GlobalEventJob1") == "GLOBAL_EVENT"  # Ikasan keeps its reserved agent
    assert set(agents.values()) == {"uat-agent"}


def test_export_of_the_example_has_ikasan_fields(ikasan_dir, kit) -> None:
    """Our entries carry every field Ikasan writes (so Ikasan can read them), plus ours."""
    ikasan = kit.ikasan_entries(ikasan_dir / "MyFirstJobPlan.zip")
    bundle = kit.export([kit.load_example("my-first-job-plan.yaml")])
    ours = {
        path: json.loads(data)
        for path, data in kit.zip_entries(bundle).items()
        if path.endswith(".json") and path != "manifest.json"
    }

    def keys(node: Any, into: set[str], prefix: str = "") -> set[str]:
        """Every key path; the keys of a lock's ``jobs`` map (context names) are ``{}``."""
        if isinstance(node, dict):
            for key, value in node.items():
                into.add(f"{prefix}.{key}")
                if key == "jobs" and prefix.endswith("jobLocks[]"):
                    for members in value.values():
                        keys(members, into, f"{prefix}.jobs{{}}")
                else:
                    keys(value, into, f"{prefix}.{key}")
        elif isinstance(node, list):
            for item in node:
                keys(item, into, f"{prefix}[]")
        return into

    context = "context/MyFirstJobPlan.json"
    assert keys(ikasan[context], set()) <= keys(ours[context], set())
    for path, document in ikasan.items():
        if path.startswith("jobs/"):
            folder, name = path.split("/")[1], path.rsplit("/", 1)[1]
            (match,) = [p for p in ours if p.startswith(f"jobs/{folder}/") and p.endswith(name)]
            missing = set(document) - set(ours[match])
            assert not missing, (path, missing)
            for field in ("agentName", "jobName", "identifier", "startupControlType"):
                assert ours[match][field] == document[field], (path, field)
    assert ours[context]["jobLocks"] == ikasan[context]["jobLocks"]
    assert ours[context]["jobDependencies"][:2] == ikasan[context]["jobDependencies"]


# --- synthetic Ikasan exports -----------------------------------------------------------------


def _job(name: str, agent: str = "agent-1", **fields: Any) -> dict[str, Any]:
    return {
        "agentName": agent,
        "jobName": name,
        "jobDescription": f"{name} job",
        "contextName": "Plan",
        "startupControlType": "AUTOMATIC",
        "identifier": f"{agent}-{name}",
        **fields,
    }


def _command(name: str, **fields: Any) -> dict[str, Any]:
    return _job(name, commandLine=f"echo {name}", **fields)


def _scheduled(*names: str, agent: str = "agent-1") -> list[dict[str, Any]]:
    return [
        {"agentName": agent, "jobName": name, "identifier": f"{agent}-{name}"} for name in names
    ]


def _ref(name: str) -> dict[str, str]:
    return {"identifier": f"agent-1-{name}"}


def _context(name: str = "Plan", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "contexts": [],
        "scheduledJobs": [],
        "jobDependencies": [],
        "contextDependencies": [],
        "jobLocks": [],
        "contextParameters": [],
        "contextTtlMilliseconds": 0,
    }
    base.update(fields)
    return base


def _ikasan_zip(kit, context: dict[str, Any], jobs: dict[str, dict[str, Any]]) -> bytes:
    """An Ikasan-style export: one root folder, flat job folders."""
    entries: dict[str, Any] = {
        "1700000000000-Plan/": b"",
        "1700000000000-Plan/context/Plan.json": context,
    }
    for path, document in jobs.items():
        entries[f"1700000000000-Plan/jobs/{path}"] = document
    return kit.make_zip(entries)


def _plan(kit, context: dict[str, Any], jobs: dict[str, dict[str, Any]], **options: Any):
    contents = kit.read(_ikasan_zip(kit, context, jobs), **options)
    (plan,) = contents.documents
    return plan, contents


def test_logical_groupings_follow_ikasan_semantics(kit) -> None:
    """Ikasan: (all of 'and' or any of 'or') and none of 'not'; items may nest groupings."""
    names = ["a", "b", "c", "d", "e", "f"]
    dependencies = [
        {"jobIdentifier": "agent-1-b", "logicalGrouping": {"and": [_ref("a")]}},
        {"jobIdentifier": "agent-1-c", "logicalGrouping": {"or": [_ref("a"), _ref("b")]}},
        {
            "jobIdentifier": "agent-1-d",
            "logicalGrouping": {"and": [_ref("a"), _ref("b")], "not": [_ref("c")]},
        },
        {
            "jobIdentifier": "agent-1-e",
            "logicalGrouping": {"and": [_ref("a")], "or": [_ref("b"), _ref("c")]},
        },
        {
            "jobIdentifier": "agent-1-f",
            "logicalGrouping": {
                "and": [
                    _ref("a"),
                    {
                        "logicalGrouping": {
                            "or": [_ref("b"), {"logicalGrouping": {"and": [_ref("c"), _ref("d")]}}]
                        }
                    },
                ],
                "not": [{"logicalGrouping": {"or": [_ref("e"), _ref("e")]}}],
            },
        },
    ]
    context = _context(scheduledJobs=_scheduled(*names), jobDependencies=dependencies)
    plan, _ = _plan(kit, context, {f"internal/{n}.json": _command(n) for n in names})
    jobs = plan.job_index()
    assert jobs["a"].depends_on is None
    assert str(jobs["b"].depends_on) == "a"
    assert str(jobs["c"].depends_on) == "a or b"
    assert str(jobs["d"].depends_on) == "a and b and not c"
    assert str(jobs["e"].depends_on) == "a or b or c"
    assert str(jobs["f"].depends_on) == "a and (b or (c and d)) and not e"


def test_ikasan_fields_units_and_windows(kit) -> None:
    child = _context(
        "Child",
        scheduledJobs=_scheduled("load"),
        timeWindowStart="0 0 6 ? * MON-FRI",
        timezone="Europe/London",
        contextTtlMilliseconds=3_600_500,
        disabled=True,
        blackoutWindowCronExpressions=["* * 0-5 ? * SUN"],
        blackoutWindowDateTimeRanges={"1735689600000": 1735776000000},
        contextParameters=[{"name": "STAGE_P", "defaultValue": None}],
    )
    context = _context(
        contexts=[child],
        scheduledJobs=_scheduled("gate", "files"),
        jobDependencies=[{"jobIdentifier": "agent-1-files"}],
        timeWindowStart="0 30 1 ? * *",
        contextTtlMilliseconds=82_800_000,
        ableToRunConcurrently=False,
        description="plan description",
        contextParameters=[{"name": "REGION", "defaultValue": "eu"}],
    )
    jobs = {
        "internal/load.json": _command(
            "load",
            workingDirectory="/opt",
            successfulReturnCodes=["0", "3"],
            minExecutionTime=0,
            maxExecutionTime=600,
            startupControlType="MANUAL",
            contextParameters=[{"name": "P", "defaultValue": "v"}],
        ),
        "quartz/gate.json": _job(
            "gate",
            cronExpression="0 0 7 ? * *",
            timeZone="America/New_York",
            startupControlType="DISABLED",
            blackoutWindowDateTimeRanges={"0": 1000},
        ),
        "file/files.json": _job(
            "files",
            filePath="/in",
            filenames=["a.csv", "b_.*\\.txt"],
            minFileAgeSeconds=5,
            directoryDepth=2,
            cronExpression="0 0/5 * * * ?",
            moveDirectory="/done",
        ),
    }
    plan, contents = _plan(kit, context, jobs)
    assert plan.description == "plan description"
    assert plan.window is not None and plan.window.ttl_seconds == 82800
    assert plan.policies.overlap == "skip"
    assert [(p.name, p.default) for p in plan.parameters] == [("REGION", "eu")]
    (stage,) = plan.stages
    assert stage.enabled is False
    assert stage.window is not None
    assert (stage.window.cron, stage.window.timezone, stage.window.ttl_seconds) == (
        "0 0 6 ? * MON-FRI",
        "Europe/London",
        3600,  # milliseconds, rounded down to whole seconds
    )
    crons = [b.cron for b in stage.window.blackouts if b.cron]
    ranges = [(b.start, b.end) for b in stage.window.blackouts if b.start]
    assert crons == ["* * 0-5 ? * SUN"]
    assert [(s.isoformat(), e.isoformat()) for s, e in ranges] == [
        ("2025-01-01T00:00:00+00:00", "2025-01-02T00:00:00+00:00")
    ]
    assert [(p.name, p.default) for p in stage.parameters] == [("STAGE_P", "")]
    jobs_ = plan.job_index()
    load = jobs_["load"]
    assert isinstance(load, CommandJob)
    assert (load.working_directory, load.success_exit_codes) == ("/opt", [0, 3])
    assert (load.min_execution_seconds, load.max_execution_seconds) == (None, 600)
    assert load.startup is StartupControl.MANUAL
    gate = jobs_["gate"]
    assert isinstance(gate, TimeJob) and gate.timezone == "America/New_York"
    assert gate.startup is StartupControl.DISABLED and len(gate.blackouts) == 1
    files = jobs_["files"]
    assert isinstance(files, FileJob)
    assert (files.path, files.patterns, files.depth, files.move_to) == (
        "/in",
        ["a.csv", "b_.*\\.txt"],
        2,
        "/done",
    )
    assert any("looks like a regular expression" in str(w) for w in contents.warnings)


def test_split_subcontext_exports_are_reassembled(kit) -> None:
    """Newer Ikasan can write each nested context to its own file under its parent's folder."""
    root = _context(scheduledJobs=_scheduled("a"), jobDependencies=[{"jobIdentifier": "agent-1-a"}])
    second = _context("Second", ordinal=2, scheduledJobs=_scheduled("c"))
    first = _context("First", ordinal=1, scheduledJobs=_scheduled("b"))
    inner = _context("Inner", ordinal=1, scheduledJobs=_scheduled("d"))
    entries = {
        "context/Plan.json": root,
        "context/Plan/Second.json": second,
        "context/Plan/First.json": first,
        "context/Plan/First/Inner.json": inner,
        **{f"jobs/internal/{n}.json": _command(n) for n in "abcd"},
    }
    (plan,) = kit.read(kit.make_zip(entries)).documents
    assert [stage.name for stage in plan.stages] == ["First", "Second"]
    assert [stage.name for stage in plan.stages[0].stages] == ["Inner"]
    assert [job.name for job in plan.stages[0].stages[0].jobs] == ["d"]


def test_context_dependencies_become_stage_conditions(kit) -> None:
    first = _context("First", scheduledJobs=_scheduled("a"))
    second = _context("Second", scheduledJobs=_scheduled("b"))
    root = _context(
        contexts=[first, second],
        contextDependencies=[
            {
                "contextIdentifier": "Second",
                "logicalGrouping": {"and": [{"identifier": "First"}]},
            }
        ],
    )
    plan, _ = _plan(kit, root, {f"internal/{n}.json": _command(n) for n in "ab"})
    assert plan.stages[1].depends_on == parse_condition({"stage": "First"})


def test_flat_jobs_of_several_contexts_go_by_context_name(kit) -> None:
    one = _context("One", scheduledJobs=_scheduled("a"))
    two = _context("Two", scheduledJobs=_scheduled("b"))
    entries = {
        "context/One.json": one,
        "context/Two.json": two,
        "jobs/internal/a.json": {**_command("a"), "contextName": "One"},
        "jobs/internal/b.json": {**_command("b"), "contextName": "Two"},
    }
    one_plan, two_plan = kit.read(kit.make_zip(entries)).documents
    assert [job.name for job in one_plan.jobs] == ["a"]
    assert [job.name for job in two_plan.jobs] == ["b"]


def test_unknown_dependency_names_entry_and_field(kit) -> None:
    context = _context(
        scheduledJobs=_scheduled("a"),
        jobDependencies=[
            {"jobIdentifier": "agent-1-a", "logicalGrouping": {"and": [_ref("nope")]}}
        ],
    )
    with pytest.raises(BundleSchemaError) as caught:
        _plan(kit, context, {"internal/a.json": _command("a")})
    assert caught.value.entry == "context/Plan.json"
    assert caught.value.field == "jobDependencies[0].logicalGrouping.and[0].identifier"
    assert "unknown job or context 'agent-1-nope'" in str(caught.value)


def test_ikasan_problems_are_all_reported(kit) -> None:
    context = _context(scheduledJobs=_scheduled("a", "b", "missing"))
    jobs = {
        "internal/a.json": _command("a", startupControlType="SOMETIMES"),
        "internal/b.json": _command("b", minExecutionTime="ten"),
    }
    with pytest.raises(BundleSchemaError) as caught:
        _plan(kit, context, jobs)
    problems = {str(problem) for problem in caught.value.problems}
    assert problems >= {
        "context/Plan.json: scheduledJobs[2]: there is no job entry (jobs/<kind>/...) for "
        "'missing'",
        "jobs/internal/a.json: startupControlType: unknown startupControlType 'SOMETIMES': "
        "expected AUTOMATIC, MANUAL or DISABLED",
        "jobs/internal/b.json: minExecutionTime: expected a number of seconds, found text",
    }


def test_model_errors_name_the_job_entry_and_field(kit) -> None:
    context = _context(scheduledJobs=_scheduled("a"))
    jobs = {"quartz/a.json": _job("a", cronExpression="0 0 25 * * ?")}
    with pytest.raises(BundleSchemaError) as caught:
        _plan(kit, context, jobs)
    assert caught.value.entry == "jobs/quartz/a.json"
    assert caught.value.field == "jobs[0].cron"
    assert "invalid cron expression" in caught.value.detail


def test_unlisted_job_entries_are_reported_and_skipped(kit) -> None:
    context = _context(scheduledJobs=_scheduled("a"))
    jobs = {"internal/a.json": _command("a"), "internal/stray.json": _command("stray")}
    plan, contents = _plan(kit, context, jobs)
    assert [job.name for job in plan.all_jobs()] == ["a"]
    assert [str(w) for w in contents.warnings] == [
        "jobs/internal/stray.json: job 'stray' is not listed in any context; it was skipped"
    ]


def test_notifications_profiles_and_templates_are_reported(kit) -> None:
    context = _context(scheduledJobs=_scheduled("a"))
    entries = {
        "context/Plan.json": context,
        "jobs/internal/a.json": _command("a"),
        "jobs/internal_templates/t.json": _command("t"),
        "notification/x-notification.json": {"contextName": "[[context.name]]"},
        "profiles/Plan-p.json": {},
    }
    contents = kit.read(kit.make_zip(entries))
    messages = [str(w) for w in contents.warnings]
    assert "2 Ikasan notification/profile entries were not imported" in messages[0]
    assert "jobs/internal_templates/t.json: Ikasan job templates are not imported" in messages
    assert contents.tokens == ()  # entries that are not imported need no token values


def test_odd_groupings_are_imported_with_a_warning(kit) -> None:
    dependencies = [
        {"jobIdentifier": "agent-1-b", "logicalGrouping": {"not": [_ref("a")]}},
        {
            "jobIdentifier": "agent-1-c",
            "logicalGrouping": {"and": [_ref("a")], "logicalGrouping": {"and": [_ref("b")]}},
        },
        {"jobIdentifier": "agent-1-c", "logicalGrouping": {"and": [_ref("a")]}},
    ]
    context = _context(scheduledJobs=_scheduled("a", "b", "c"), jobDependencies=dependencies)
    plan, contents = _plan(kit, context, {f"internal/{n}.json": _command(n) for n in "abc"})
    jobs = plan.job_index()
    assert str(jobs["b"].depends_on) == "not a"
    assert str(jobs["c"].depends_on) == "a"  # two identical entries, one condition
    messages = [str(w) for w in contents.warnings]
    assert any("has only 'not' items, which never hold in Ikasan" in m for m in messages)
    assert any(
        "jobDependencies[1].logicalGrouping.logicalGrouping was ignored" in m for m in messages
    )
