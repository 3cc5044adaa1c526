"""The answers of Ikasan's Job Plan and Job Instance Status services, shaped from our runs.

Pure functions from :class:`~jobplan.service.runs.RunInstance` (a plan run, the document of
the version it runs, its job runs) to Ikasan's words and JSON. An Ikasan *context instance*
is a plan run; its nested contexts are the plan's stages; its *scheduled jobs* are the job
runs. Times are epoch milliseconds, ``0`` when not set, as Ikasan writes them.

Status words are Ikasan's ``InstanceStatus`` values:

* job runs: ours already are Ikasan's, except ``KILLED`` (Ikasan has no such word: a killed
  Ikasan job ends in ``ERROR``), see :data:`JOB_WORDS`;
* plan runs: ``RUNNING``, ``COMPLETE``, ``ERROR``, ``ENDED`` as they are, ``QUEUED`` (a start
  buffered by the overlap policy) is ``PREPARED``, see :data:`PLAN_WORDS`;
* stages, which have no state of their own, by :func:`stage_word` from their jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobplan.model import Job, PlanDocument, Stage, StartupControl
from jobplan.service.records import JobRunRecord, PlanRunRecord
from jobplan.service.runs import RunInstance

__all__ = [
    "INSTANCE_STATUSES",
    "JOB_WORDS",
    "PLAN_WORDS",
    "Context",
    "all_instance",
    "context_instance",
    "context_word",
    "find_context",
    "find_job",
    "job_instance",
    "job_status",
    "job_word",
    "stage_word",
]

#: Every value of Ikasan's ``InstanceStatus``: what ``?instanceStatus=`` accepts.
INSTANCE_STATUSES = frozenset(
    {
        "RUNNING",
        "SKIPPED_RUNNING",
        "COMPLETE",
        "SKIPPED_COMPLETE",
        "WAITING",
        "ERROR",
        "SKIPPED",
        "ON_HOLD",
        "RELEASED",
        "ENDED",
        "DISABLED",
        "LOCK_QUEUED",
        "PREPARED",
    }
)
#: Our job-run statuses as Ikasan's words.
JOB_WORDS = {
    "WAITING": "WAITING",
    "LOCK_QUEUED": "LOCK_QUEUED",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETE",
    "ERROR": "ERROR",
    "KILLED": "ERROR",
    "SKIPPED": "SKIPPED",
    "ON_HOLD": "ON_HOLD",
    "DISABLED": "DISABLED",
}
#: Our plan-run statuses as Ikasan's words.
PLAN_WORDS = {
    "QUEUED": "PREPARED",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETE",
    "ERROR": "ERROR",
    "ENDED": "ENDED",
}
_STARTUP = {
    StartupControl.AUTOMATIC: "AUTOMATIC",
    StartupControl.MANUAL: "MANUAL",
    StartupControl.DISABLED: "DISABLED",
}
_DONE = frozenset({"COMPLETE", "SKIPPED", "DISABLED"})


@dataclass(frozen=True, slots=True)
class Context:
    """An Ikasan context of a plan: the plan itself (``stage`` None) or one of its stages."""

    name: str
    stage: Stage | None


def _ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0


def job_word(instance: RunInstance, name: str) -> str:
    """The word of job ``name`` in the run (``WAITING`` if the run has no such job run)."""
    job_run = instance.jobs.get(name)
    return JOB_WORDS.get(job_run.status, job_run.status) if job_run is not None else "WAITING"


def _identifier(job: Job) -> str:
    return f"{job.agent}-{job.name}" if job.agent else job.name


def _members(jobs: list[Job], stages: list[Stage]) -> Iterator[tuple[Job, str | None]]:
    """Every job under ``jobs``/``stages`` with its innermost stage's name (None: none)."""
    for job in jobs:
        yield job, None
    for stage in stages:
        for job, inner in _members(stage.jobs, stage.stages):
            yield job, inner or stage.name


def find_context(document: PlanDocument, name: str, plan_ref: str) -> Context | None:
    """The context ``name`` of the plan: the plan itself when ``name`` is its name (or the
    reference it was asked by), else the stage of that name, or None."""
    if name in (document.name, plan_ref):
        return Context(document.name, None)
    stage = document.find_stage(name)
    return Context(stage.name, stage) if stage is not None else None


def _jobs_of(document: PlanDocument, context: Context) -> Iterator[tuple[Job, str]]:
    """Every job of ``context`` (nested stages included) with the context it is defined in."""
    jobs, stages = (
        (document.jobs, document.stages)
        if context.stage is None
        else (context.stage.jobs, context.stage.stages)
    )
    for job, inner in _members(jobs, stages):
        yield job, inner or context.name


def find_job(document: PlanDocument, context: Context, job: str) -> tuple[Job, str] | None:
    """The job of ``context`` named ``job`` or identified as ``agentName-jobName``, with the
    name of the context it is defined in."""
    return next(
        (
            (found, home)
            for found, home in _jobs_of(document, context)
            if job in (found.name, _identifier(found))
        ),
        None,
    )


def stage_word(instance: RunInstance, stage: Stage) -> str:
    """A stage's word from its jobs (nested stages included): ``ERROR`` if one failed,
    ``RUNNING`` while one runs or waits for a lock, ``COMPLETE`` (``DISABLED`` if all are
    disabled) once all are done, else ``ENDED`` if the run has ended, ``RUNNING`` if some
    are done, ``WAITING`` if none has started yet. ``PREPARED`` while the run is queued."""
    if instance.run.status == "QUEUED":
        return "PREPARED"
    words = [
        job_word(instance, job.name)
        for job, _ in _members(stage.jobs, stage.stages)
        if job.name in instance.jobs
    ]
    if "ERROR" in words:
        return "ERROR"
    if "RUNNING" in words or "LOCK_QUEUED" in words:
        return "RUNNING"
    if all(word in _DONE for word in words):
        return "DISABLED" if words and all(w == "DISABLED" for w in words) else "COMPLETE"
    if instance.run.ended_at is not None:
        return "ENDED"
    return "RUNNING" if any(word in _DONE for word in words) else "WAITING"


def context_word(instance: RunInstance, context: Context) -> str:
    """The word of ``context`` in this run: the plan run's, or its stage's."""
    if context.stage is None:
        return PLAN_WORDS.get(instance.run.status, instance.run.status)
    return stage_word(instance, context.stage)


def job_instance(instance: RunInstance, job: Job, home: str) -> dict[str, Any]:
    """Ikasan's ``SchedulerJobInstance`` of one job of the run (``home``: the context the job
    is defined in)."""
    run, document = instance.run, instance.document
    job_run = instance.jobs.get(job.name)
    word = job_word(instance, job.name)
    data: dict[str, Any] = {
        "jobName": job.name,
        "jobDescription": job.description,
        "identifier": _identifier(job),
        "contextName": document.name,
        "childContextName": home,
        "childContextNames": [home],
        "contextInstanceId": run.id,
        "startupControlType": _STARTUP[job.startup],
        "status": word,
        "held": word == "ON_HOLD",
        "skip": word == "SKIPPED",
        "heldContexts": {},
        "skippedContexts": {},
        "initiationEventRaised": job_run is not None and job_run.started_at is not None,
    }
    if job.agent:
        data["agentName"] = job.agent
    if job_run is not None and job_run.started_at is not None:
        event: dict[str, Any] = {
            "jobName": job.name,
            "jobDescription": job.description,
            "contextName": document.name,
            "childContextNames": [home],
            "contextInstanceId": run.id,
            "fireTime": _ms(job_run.started_at),
            "completionTime": _ms(job_run.ended_at),
            "returnCode": job_run.exit_code if job_run.exit_code is not None else 0,
            "successful": word == "COMPLETE",
            "pid": job_run.pid or 0,
            "skipped": word == "SKIPPED",
            "dryRun": False,
        }
        if job.agent:
            event["agentName"] = job.agent
        data["scheduledProcessEvent"] = event
    return data


def _stage_times(instance: RunInstance, stage: Stage, word: str) -> tuple[int, int]:
    runs = [
        instance.jobs[job.name]
        for job, _ in _members(stage.jobs, stage.stages)
        if job.name in instance.jobs
    ]
    started = [r.started_at for r in runs if r.started_at is not None]
    ended = [r.ended_at for r in runs if r.ended_at is not None]
    finished = word in {"COMPLETE", "DISABLED", "ENDED"}
    return _ms(min(started) if started else None), _ms(max(ended) if finished and ended else None)


def _updated(run: PlanRunRecord, jobs: list[JobRunRecord]) -> int:
    moments = [run.created_at, run.started_at, run.ended_at]
    for job_run in jobs:
        moments += [job_run.started_at, job_run.ended_at]
    return max(_ms(moment) for moment in moments)


def context_instance(instance: RunInstance, context: Context) -> dict[str, Any]:
    """Ikasan's ``ContextInstance`` of ``context`` in this run, nested contexts included."""
    run, document = instance.run, instance.document
    word = context_word(instance, context)
    if context.stage is None:
        description, enabled = document.description, document.enabled
        jobs, stages = document.jobs, document.stages
        start, end = _ms(run.started_at), _ms(run.ended_at)
        parameters = [{"name": k, "value": v} for k, v in sorted(run.parameters.items())]
    else:
        stage = context.stage
        description, enabled = stage.description, stage.enabled
        jobs, stages = stage.jobs, stage.stages
        start, end = _stage_times(instance, stage, word)
        parameters = [{"name": p.name, "value": p.default} for p in stage.parameters]
    return {
        "name": context.name,
        "description": description,
        "disabled": not enabled,
        "id": run.id,
        "status": word,
        "createdDateTime": _ms(run.created_at),
        "updatedDateTime": _updated(run, list(instance.jobs.values())),
        "startTime": start,
        "endTime": end,
        "contextParameters": parameters,
        "scheduledJobs": [job_instance(instance, job, context.name) for job in jobs],
        "contexts": [context_instance(instance, Context(sub.name, sub)) for sub in stages],
    }


def all_instance(runs: list[PlanRunRecord]) -> dict[str, Any]:
    """Ikasan's ``ContextMachineStatusWrapper``: each run's plan name, id and word."""
    return {
        "contextMachineStatusList": [
            {
                "contextName": run.plan_path.rpartition("/")[2],
                "contextInstanceId": run.id,
                "instanceStatus": PLAN_WORDS.get(run.status, run.status),
            }
            for run in runs
        ]
    }


def job_status(instances: list[RunInstance], only: str | None) -> dict[str, Any]:
    """Ikasan's ``ContextJobInstanceStatusWrapper``: each run with its jobs' words and times;
    with ``only``, the jobs in that word (runs are listed even when none of theirs is)."""
    plans = []
    for instance in instances:
        details = []
        for job, home in _jobs_of(instance.document, Context(instance.document.name, None)):
            job_run = instance.jobs.get(job.name)
            word = job_word(instance, job.name)
            if only is not None and word != only:
                continue
            details.append(
                {
                    "jobName": job.name,
                    "childContextName": [home],
                    "instanceStatus": word,
                    "targetResidingContextOnly": False,
                    "startTime": _ms(job_run.started_at if job_run else None),
                    "endTime": _ms(job_run.ended_at if job_run else None),
                }
            )
        plans.append(
            {
                "contextName": instance.document.name,
                "contextInstanceId": instance.run.id,
                "instanceStatus": PLAN_WORDS.get(instance.run.status, instance.run.status),
                "jobDetails": details,
            }
        )
    return {"jobPlans": plans}
