"""``/api/v1`` plan runs and job runs: start, stop, operator actions, output, stats, events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jobplan.api.deps import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    OffsetQuery,
    ServicesDep,
    check_cursor_offset,
    set_keyset_headers,
    set_page_headers,
)
from jobplan.api.openapi import AUTHENTICATED, problem_responses
from jobplan.errors import Conflict
from jobplan.model import JobAction, StartOutcome
from jobplan.service.records import JobRunRecord, PlanRunRecord, RerunRecord
from jobplan.service.runs import MAX_RERUN_JOBS, OutputView, PlanStats, RerunResult

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=problem_responses(*AUTHENTICATED))
#: Largest output sequence number (the column is a 32-bit integer in PostgreSQL).
MAX_SEQUENCE = 2**31 - 1

RunId = Annotated[str, Path(max_length=64, description="Plan run id.")]
JobRunId = Annotated[str, Path(max_length=64, description="Job run id.")]
PlanId = Annotated[str, Path(max_length=64, description="Plan id.")]
Action = Annotated[JobAction, Path(description="The operator's action.")]


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameters: dict[
        Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=65536)]
    ] = Field(default_factory=dict, max_length=200, description="Override plan parameter values.")
    force: bool = Field(default=False, description="Start even if the overlap policy says not.")


class JobRunOut(BaseModel):
    id: str
    plan_run_id: str
    job_name: str
    kind: str
    status: str
    attempt: int
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    next_check_at: datetime | None
    exit_code: int | None
    http_status: int | None
    reason: str | None
    flags: list[str]
    acknowledged: bool
    agent: str | None = Field(
        description="Where the job runs when not on the server's nodes: an agent's name, or "
        "label:<label> for any agent with that label (docs/agents.md). None: on the server."
    )

    @classmethod
    def of(cls, r: JobRunRecord) -> JobRunOut:
        return cls(
            id=r.id,
            plan_run_id=r.plan_run_id,
            job_name=r.job_name,
            kind=r.kind,
            status=r.status,
            attempt=r.attempt,
            created_at=r.created_at,
            started_at=r.started_at,
            ended_at=r.ended_at,
            next_check_at=r.wake_at,
            exit_code=r.exit_code,
            http_status=r.http_status,
            reason=r.reason,
            flags=r.flags,
            acknowledged=r.acknowledged,
            agent=r.agent,
        )


class PlanRunOut(BaseModel):
    id: str
    plan_id: str
    plan_path: str
    version: str
    version_id: str
    status: str
    trigger: str
    scheduled_for: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    deadline_at: datetime | None
    parameters: dict[str, str]
    reason: str | None
    created_by: str

    @classmethod
    def of(cls, r: PlanRunRecord) -> PlanRunOut:
        return cls(
            id=r.id,
            plan_id=r.plan_id,
            plan_path=r.plan_path,
            version=r.version,
            version_id=r.plan_version_id,
            status=r.status,
            trigger=r.trigger,
            scheduled_for=r.scheduled_for,
            created_at=r.created_at,
            started_at=r.started_at,
            ended_at=r.ended_at,
            deadline_at=r.deadline_at,
            parameters=r.parameters,
            reason=r.reason,
            created_by=r.created_by,
        )


class PlanRunDetail(PlanRunOut):
    jobs: list[JobRunOut]


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: Literal["failed", "all"] | list[Annotated[str, Field(max_length=100)]] = Field(
        default="failed",
        max_length=MAX_RERUN_JOBS,
        description="`failed` (the ERROR and KILLED jobs), `all` (every job that ran) or job "
        "names.",
    )
    downstream: bool = Field(
        default=False, description="Also re-run every job depending on them, transitively."
    )
    force: bool = Field(
        default=False,
        description="Reopen an ended run even if its overlap policy forbids it while another "
        "run of the plan is open.",
    )


class PreviousAttemptOut(BaseModel):
    job_name: str
    job_run_id: str
    attempt: int = Field(description="Its output stays readable under this attempt number.")
    status: str
    exit_code: int | None
    http_status: int | None
    reason: str | None
    flags: list[str]
    started_at: datetime | None
    ended_at: datetime | None


class RerunRecordOut(BaseModel):
    number: int = Field(description="1 for the run's first re-run, then 2, ...")
    requested_by: str
    requested_at: datetime
    jobs_requested: str | list[str] = Field(description="What was asked: failed, all or names.")
    downstream: bool
    force: bool
    previous_status: str
    previous_started_at: datetime | None
    previous_ended_at: datetime | None
    previous_reason: str | None
    jobs: list[PreviousAttemptOut] = Field(
        description="The job runs it cleared, as they stood before it."
    )

    @classmethod
    def of(cls, r: RerunRecord) -> RerunRecordOut:
        return cls(
            number=r.number,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            jobs_requested=r.selection.get("jobs", "failed"),
            downstream=bool(r.selection.get("downstream")),
            force=bool(r.selection.get("force")),
            previous_status=r.previous_status,
            previous_started_at=r.previous_started_at,
            previous_ended_at=r.previous_ended_at,
            previous_reason=r.previous_reason,
            jobs=[PreviousAttemptOut.model_validate(job) for job in r.jobs],
        )


class RerunOut(BaseModel):
    run: PlanRunDetail
    rerun: RerunRecordOut
    cleared: list[str] = Field(description="The jobs given a new attempt.")

    @classmethod
    def of(cls, result: RerunResult) -> RerunOut:
        return cls(
            run=PlanRunDetail(
                **PlanRunOut.of(result.view.run).model_dump(),
                jobs=[JobRunOut.of(j) for j in result.view.jobs],
            ),
            rerun=RerunRecordOut.of(result.rerun),
            cleared=result.cleared,
        )


class StartOut(BaseModel):
    outcome: StartOutcome = Field(description="started | queued (buffered by the overlap policy)")
    run: PlanRunOut
    cancelled: list[str] = Field(description="Runs ended by overlap policy cancel_other.")


class OutputOut(BaseModel):
    job_run_id: str
    attempt: int
    text: str
    next_seq: int = Field(description="Pass as `after` to get only newer output.")
    complete: bool = Field(description="The attempt has ended; no more output will come.")

    @classmethod
    def of(cls, view: OutputView) -> OutputOut:
        return cls(
            job_run_id=view.job_run_id,
            attempt=view.attempt,
            text=view.text,
            next_seq=view.next_seq,
            complete=view.complete,
        )


class StatsOut(BaseModel):
    plan_id: str
    total: int
    succeeded: int
    failed: int
    ended: int
    success_percent: float | None
    failure_percent: float | None
    average_duration_seconds: float | None
    last_status: str | None
    last_run_at: datetime | None
    next_fire_time: datetime | None

    @classmethod
    def of(cls, s: PlanStats) -> StatsOut:
        return cls(**{name: getattr(s, name) for name in cls.model_fields})


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class EventOut(BaseModel):
    name: str
    completed_jobs: int


class DisabledJobsOut(BaseModel):
    disabled_jobs: list[str]


@router.post(
    "/plans/{plan_id}/runs",
    operation_id="start_plan_run",
    status_code=status.HTTP_201_CREATED,
    response_model=StartOut,
    responses=problem_responses(404, (409, "The overlap policy refused the start (use `force`).")),
)
def start_run(
    plan_id: PlanId, caller: CallerDep, services: ServicesDep, body: StartIn | None = None
) -> StartOut:
    """Start a run now (recorded before this answers), obeying the plan's overlap policy
    unless `force` is set."""
    body = body or StartIn()
    outcome = services.runs.start(caller, plan_id, body.parameters, force=body.force)
    if outcome.run is None:
        raise Conflict(
            "a run of this plan is active and its overlap policy does not allow another now; "
            "set force to start anyway (jobplan runs start --force)"
        )
    return StartOut(
        outcome=outcome.outcome, run=PlanRunOut.of(outcome.run), cancelled=outcome.cancelled
    )


@router.get(
    "/runs",
    operation_id="list_plan_runs",
    response_model=list[PlanRunOut],
    responses=problem_responses(404),
)
def list_runs(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    plan: Annotated[
        str | None, Query(max_length=700, description="Plan id or folder/name.")
    ] = None,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=10)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
    cursor: CursorQuery = None,
) -> list[PlanRunOut]:
    """Newest first. Pages by `offset` (with `X-Total-Count`), or by keyset with `cursor`
    (empty for the first page, then each page's `X-Next-Cursor`): no count, and the same
    cost at any depth of the history."""
    if cursor is not None:
        check_cursor_offset(offset)
        keyset = services.runs.runs_after(
            caller,
            cursor,
            plan_ref=plan,
            statuses=status_,
            since=since,
            until=until,
            limit=limit,
        )
        set_keyset_headers(request, response, keyset)
        return [PlanRunOut.of(r) for r in keyset.items]
    page = services.runs.list_runs(
        caller,
        plan_ref=plan,
        statuses=status_,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    set_page_headers(request, response, page)
    return [PlanRunOut.of(r) for r in page.items]


@router.get(
    "/runs/{run_id}",
    operation_id="get_plan_run",
    response_model=PlanRunDetail,
    responses=problem_responses(404),
)
def get_run(run_id: RunId, caller: CallerDep, services: ServicesDep) -> PlanRunDetail:
    view = services.runs.get(caller, run_id)
    return PlanRunDetail(
        **PlanRunOut.of(view.run).model_dump(), jobs=[JobRunOut.of(j) for j in view.jobs]
    )


@router.post(
    "/runs/{run_id}/stop",
    operation_id="stop_plan_run",
    response_model=PlanRunOut,
    responses=problem_responses(404, 409),
)
def stop_run(run_id: RunId, caller: CallerDep, services: ServicesDep) -> PlanRunOut:
    """End the run: running jobs are killed (their whole process group), nothing else starts."""
    return PlanRunOut.of(services.runs.stop(caller, run_id))


@router.post(
    "/runs/{run_id}/rerun",
    operation_id="rerun_plan_run",
    response_model=RerunOut,
    responses=problem_responses(
        404,
        (
            409,
            "The run is still running (or queued, or stopping), its plan version is gone, the "
            "selection clears nothing, or the overlap policy forbids reopening it now.",
        ),
        (422, "Unknown job names, or no job named."),
    ),
)
def rerun_run(
    run_id: RunId, caller: CallerDep, services: ServicesDep, body: RerunIn | None = None
) -> RerunOut:
    """Re-run a finished (or stalled) run in place, as Airflow's "clear": the chosen jobs
    (and with `downstream` what depends on them) get a new attempt, the others keep their
    results and do not run again; the run reopens and ends by the usual rules, with its
    version, parameters and `scheduled_for`."""
    body = body or RerunIn()
    jobs = body.jobs if isinstance(body.jobs, str) else list(body.jobs)
    result = services.runs.rerun(caller, run_id, jobs, downstream=body.downstream, force=body.force)
    return RerunOut.of(result)


@router.get(
    "/runs/{run_id}/reruns",
    operation_id="list_plan_run_reruns",
    response_model=list[RerunRecordOut],
    responses=problem_responses(404),
)
def list_reruns(run_id: RunId, caller: CallerDep, services: ServicesDep) -> list[RerunRecordOut]:
    """The run's re-runs, oldest first, each with the results its cleared jobs had (their
    output stays readable: `GET /job-runs/{id}/output?attempt=N`)."""
    return [RerunRecordOut.of(r) for r in services.runs.reruns(caller, run_id)]


@router.get(
    "/job-runs",
    operation_id="list_job_runs",
    response_model=list[JobRunOut],
    responses=problem_responses(404),
)
def list_job_runs(
    request: Request,
    response: Response,
    caller: CallerDep,
    services: ServicesDep,
    run: Annotated[str | None, Query(max_length=64, description="Plan run id.")] = None,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=10)] = None,
    job: Annotated[str | None, Query(max_length=100, description="Job name.")] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
    cursor: CursorQuery = None,
) -> list[JobRunOut]:
    """Newest first. Pages by `offset` (with `X-Total-Count`; a run's job runs by name), or
    by keyset with `cursor` (empty for the first page, then each page's `X-Next-Cursor`;
    job runs created at the same instant by id, descending): no count, and the same cost at
    any depth of the history."""
    if cursor is not None:
        check_cursor_offset(offset)
        keyset = services.runs.job_runs_after(
            caller, cursor, run_id=run, statuses=status_, job_name=job, limit=limit
        )
        set_keyset_headers(request, response, keyset)
        return [JobRunOut.of(j) for j in keyset.items]
    page = services.runs.job_runs(
        caller, run_id=run, statuses=status_, job_name=job, limit=limit, offset=offset
    )
    set_page_headers(request, response, page)
    return [JobRunOut.of(j) for j in page.items]


@router.get(
    "/job-runs/{job_run_id}",
    operation_id="get_job_run",
    response_model=JobRunOut,
    responses=problem_responses(404),
)
def get_job_run(job_run_id: JobRunId, caller: CallerDep, services: ServicesDep) -> JobRunOut:
    return JobRunOut.of(services.runs.job_run(caller, job_run_id))


@router.post(
    "/job-runs/{job_run_id}/{action}",
    operation_id="act_on_job_run",
    response_model=JobRunOut,
    responses=problem_responses(404, (409, "The job run's state does not allow the action.")),
)
def act_on_job_run(
    job_run_id: JobRunId, action: Action, caller: CallerDep, services: ServicesDep
) -> JobRunOut:
    """hold, release, skip, unskip, reset (re-run), acknowledge (an error) or kill."""
    return JobRunOut.of(services.runs.act(caller, job_run_id, action))


@router.get(
    "/job-runs/{job_run_id}/output",
    operation_id="job_run_output",
    response_model=OutputOut,
    responses=problem_responses(404),
)
def job_run_output(
    job_run_id: JobRunId,
    caller: CallerDep,
    services: ServicesDep,
    attempt: Annotated[int | None, Query(ge=1, le=1000)] = None,
    after: Annotated[
        int, Query(ge=-1, le=MAX_SEQUENCE, description="Only chunks after this sequence.")
    ] = -1,
    tail: Annotated[
        int | None, Query(ge=0, le=10_000_000, description="Last N characters.")
    ] = None,
) -> OutputOut:
    """Captured output (stdout and stderr, or the HTTP response body) of an attempt; while
    it runs, poll with `after=<next_seq>` to follow it."""
    view = services.runs.output(
        caller, job_run_id, attempt=attempt, after_seq=after, tail_bytes=tail
    )
    return OutputOut.of(view)


@router.get(
    "/plans/{plan_id}/stats",
    operation_id="plan_stats",
    response_model=StatsOut,
    responses=problem_responses(404),
)
def plan_stats(plan_id: PlanId, caller: CallerDep, services: ServicesDep) -> StatsOut:
    return StatsOut.of(services.runs.stats(caller, plan_id))


@router.post(
    "/plans/{plan_id}/jobs/{job_name}/{switch}",
    operation_id="switch_plan_job",
    response_model=DisabledJobsOut,
    responses=problem_responses(404),
)
def switch_job(
    plan_id: PlanId,
    job_name: Annotated[str, Path(max_length=100)],
    switch: Literal["enable", "disable"],
    caller: CallerDep,
    services: ServicesDep,
) -> DisabledJobsOut:
    """Enable or disable one job (e.g. a time gate) for the plan's future runs."""
    disabled = services.runs.set_job_enabled(caller, plan_id, job_name, switch == "enable")
    return DisabledJobsOut(disabled_jobs=disabled)


@router.post("/events", operation_id="raise_event", response_model=EventOut)
def raise_event(body: EventIn, caller: CallerDep, services: ServicesDep) -> EventOut:
    """Raise a global event: completes the event jobs waiting for it in running plan runs."""
    return EventOut(name=body.name, completed_jobs=services.runs.raise_event(caller, body.name))
