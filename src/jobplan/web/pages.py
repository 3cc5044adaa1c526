"""The console's pages and actions: each parses, calls one service operation, and renders."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Form, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from jobplan.errors import InvalidInput, JobplanError, PermissionDenied, RateLimited
from jobplan.model import diff_plans
from jobplan.service.caller import Permission
from jobplan.service.cron_preview import preview_cron
from jobplan.service.overview import JobRunRecord, job_actions, job_names_of, upcoming_fires
from jobplan.service.runs import rerun_choices
from jobplan.web.graph import layout_plan
from jobplan.web.render import page
from jobplan.web.routing import acting as _acting
from jobplan.web.routing import blocking as _blocking
from jobplan.web.routing import console_router
from jobplan.web.routing import viewing as _viewing
from jobplan.web.session import (
    COOKIE,
    SessionDep,
    WebSession,
    clear_cookie,
    safe_next,
    set_cookie,
)

__all__ = ["router"]

_PAGE_SIZE = 50
_GRID_RUNS = 25
_RECENT_RUNS = 20
_ACTION_LABELS = {
    "hold": "Hold",
    "release": "Release",
    "skip": "Skip",
    "unskip": "Unskip",
    "reset": "Reset",
    "acknowledge": "Acknowledge",
    "kill": "Kill",
}


router = console_router()


# --- sign-in ------------------------------------------------------------------------------


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "signin.html", None, next=safe_next(next), message=None)


@router.post("/signin")
def signin(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    tenant: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/plans",
) -> Response:
    services = request.app.state.services
    address = request.client.host if request.client else "unknown"
    try:
        session = services.auth.open_console_session(
            username, password, tenant.strip() or None, address
        )
    except JobplanError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return page(
            request,
            "signin.html",
            None,
            status_code=(
                429
                if isinstance(exc, RateLimited)
                else 403
                if isinstance(exc, PermissionDenied)  # an agent key given as a password
                else 401
            ),
            headers=headers,
            next=safe_next(next),
            message=exc.message,
            username=username,
            tenant=tenant,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(request, response, session)
    return response


@router.post("/signout")
async def signout(request: Request, session: SessionDep) -> Response:
    await _acting(request, session)
    cookie = request.cookies.get(COOKIE, "")
    await _blocking(session.services.auth.close_console_session, cookie)
    response = RedirectResponse("/signin", status_code=303)
    clear_cookie(response)
    return response


# --- plans --------------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return RedirectResponse("/plans", status_code=303)


@router.get("/plans")
def plans_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    folder: Annotated[str, Query(max_length=500)] = "",
    state: Annotated[str, Query(pattern="^(|enabled|disabled)$")] = "",
    sort: Annotated[str, Query(pattern="^(path|next_fire)$")] = "path",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    _viewing(request, session)
    services = session.services
    enabled = {"enabled": True, "disabled": False}.get(state)
    result = services.overview.plans_page(
        session.caller,
        folder=folder or None,
        name_contains=q or None,
        enabled=enabled,
        order=sort,
        limit=_PAGE_SIZE,
        offset=(page_number - 1) * _PAGE_SIZE,
    )
    folders = services.folders.list(session.caller, limit=200).items
    return page(
        request,
        "plans.html",
        session,
        title="Plans",
        plans=result.items,
        total=result.total,
        page_number=page_number,
        pages=max(1, math.ceil(result.total / _PAGE_SIZE)),
        q=q,
        folder=folder,
        state=state,
        sort=sort,
        folders=folders,
        can_run=session.caller.can(Permission.RUNS_WRITE),
        can_edit=session.caller.can(Permission.PLANS_WRITE),
    )


@router.post("/plans/bulk")
async def plans_bulk(
    request: Request,
    session: SessionDep,
) -> Response:
    await _acting(request, session)
    form = await request.form()
    action = form.get("action")
    plan_ids = [value for value in form.getlist("plan") if isinstance(value, str)]
    if action not in ("enable", "disable"):
        raise InvalidInput("must be enable or disable", field="action")
    if not plan_ids:
        raise InvalidInput("choose at least one plan", field="plan")
    if len(plan_ids) > _PAGE_SIZE:
        raise InvalidInput(f"at most {_PAGE_SIZE} plans at once", field="plan")
    for plan_id in plan_ids:
        await _blocking(
            session.services.plans.set_enabled, session.caller, plan_id, action == "enable"
        )
    return RedirectResponse(request.headers.get("referer") or "/plans", status_code=303)


@router.get("/plans/{plan_id}")
def plan_page(
    request: Request,
    session: SessionDep,
    plan_id: str,
    run: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[str | None, Query(max_length=64)] = None,
    compare: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    _viewing(request, session)
    services, caller = session.services, session.caller
    view = services.plans.get(caller, plan_id, version)
    versions, version_count = services.overview.versions(caller, plan_id)
    changes = None
    if compare:
        other = services.plans.get(caller, plan_id, compare)
        changes = [str(change) for change in diff_plans(other.document, view.document)]
    window = view.document.window
    fires = (
        upcoming_fires(
            window,
            datetime.now(UTC),
            10,
            calendars=services.calendars.days(caller, window.calendars),
        )
        if window
        else []
    )
    description = window.schedule().describe() if window else None
    states: dict[str, str] = {}
    chosen = None
    stats = None
    recent = []
    if caller.can(Permission.RUNS_READ):
        stats = services.runs.stats(caller, plan_id)
        recent = services.runs.list_runs(caller, plan_ref=plan_id, limit=_RECENT_RUNS).items
        # the graph shows the asked-for run, else the newest (already in ``recent``)
        shown = run or (recent[0].id if recent else None)
        chosen = services.runs.get(caller, shown) if shown else None
        if chosen is not None:
            states = {job.job_name: job.status for job in chosen.jobs}
    return page(
        request,
        "plan.html",
        session,
        title=view.plan.path,
        view=view,
        versions=versions,
        version_count=version_count,
        changes=changes,
        compare=compare,
        fires=fires,
        description=description,
        graph=layout_plan(view.document),
        states=states,
        chosen=chosen,
        stats=stats,
        recent=recent,
        can_run=caller.can(Permission.RUNS_WRITE),
        can_edit=caller.can(Permission.PLANS_WRITE),
    )


@router.get("/plans/{plan_id}/graph")
def plan_graph(
    request: Request,
    session: SessionDep,
    plan_id: str,
    run: Annotated[str, Query(max_length=64)],
) -> HTMLResponse:
    """The graph coloured with a run's states, for live swaps on the plan page."""
    _viewing(request, session)
    services, caller = session.services, session.caller
    chosen = services.runs.get(caller, run)
    view = services.plans.get(caller, plan_id, chosen.run.plan_version_id)
    return page(
        request,
        "_graph.html",
        session,
        graph=layout_plan(view.document),
        states={job.job_name: job.status for job in chosen.jobs},
    )


@router.post("/plans/{plan_id}/enabled")
async def set_plan_enabled(request: Request, session: SessionDep, plan_id: str) -> Response:
    """Enable or disable one plan's window (``enabled=true|false``)."""
    await _acting(request, session)
    form = await request.form()
    value = form.get("enabled")
    if value not in ("true", "false"):
        raise InvalidInput("must be true or false", field="enabled")
    await _blocking(session.services.plans.set_enabled, session.caller, plan_id, value == "true")
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.get("/plans/{plan_id}/grid")
def plan_grid(
    request: Request,
    session: SessionDep,
    plan_id: str,
    runs: Annotated[int, Query(ge=1, le=100)] = _GRID_RUNS,
) -> HTMLResponse:
    _viewing(request, session)
    grid = session.services.overview.run_grid(session.caller, plan_id, runs)
    return page(request, "grid.html", session, title=f"{grid.plan.path}: grid", grid=grid)


@router.post("/plans/{plan_id}/run")
async def run_plan(request: Request, session: SessionDep, plan_id: str) -> Response:
    await _acting(request, session)
    form = await request.form()
    force = form.get("force") == "on"
    view = await _blocking(session.services.plans.get, session.caller, plan_id)
    parameters: dict[str, str] = {}
    for parameter in view.document.parameters:
        value = form.get(f"param.{parameter.name}")
        if isinstance(value, str) and value != parameter.default:
            parameters[parameter.name] = value
    outcome = await _blocking(
        session.services.runs.start, session.caller, plan_id, parameters or None, force=force
    )
    if outcome.run is None:
        return page(
            request,
            "_message.html",
            session,
            status_code=409,
            kind="error",
            message=(
                "Not started: a run of this plan is active and its overlap policy "
                f"({view.document.policies.overlap}) does not allow another now. "
                "Tick \u201cforce\u201d to start one anyway."
            ),
            headers={"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"},
        )
    target = f"/runs/{outcome.run.id}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/upcoming")
def upcoming_page(
    request: Request,
    session: SessionDep,
    hours: Annotated[int, Query(ge=1, le=744)] = 24,
    q: Annotated[str, Query(max_length=200)] = "",
    folder: Annotated[str, Query(max_length=500)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Fires of every plan over the next ``hours``, soonest plan first."""
    _viewing(request, session)
    result = session.services.overview.upcoming(
        session.caller,
        hours=hours,
        folder=folder or None,
        name_contains=q or None,
        limit=_PAGE_SIZE,
        offset=(page_number - 1) * _PAGE_SIZE,
    )
    start = datetime.now(UTC)
    span = timedelta(hours=hours).total_seconds()

    def at(moment: datetime) -> float:
        return round(max(0.0, min(1.0, (moment - start).total_seconds() / span)) * 100, 3)

    step = timedelta(hours=3) if hours <= 24 else timedelta(days=1)
    first_mark = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if hours > 24:
        first_mark = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    marks = []
    mark = first_mark
    while mark < start + timedelta(hours=hours):
        marks.append((at(mark), mark))
        mark += step
    rows = [
        {
            "item": item,
            "ticks": [(at(fire.at), fire) for fire in item.fires],
            "shaded": [(at(a), at(b) - at(a), a, b) for a, b in item.blackouts],
        }
        for item in result.items
    ]
    return page(
        request,
        "upcoming.html",
        session,
        title="Upcoming",
        rows=rows,
        marks=marks,
        hours=hours,
        q=q,
        folder=folder,
        total=result.total,
        page_number=page_number,
        pages=max(1, math.ceil(result.total / _PAGE_SIZE)),
        start=start,
    )


# --- runs ---------------------------------------------------------------------------------


def run_context(session: WebSession, run_id: str) -> dict[str, Any]:
    """What the run page and its live fragment show."""
    services, caller = session.services, session.caller
    view = services.runs.get(caller, run_id)
    plan_view = services.plans.get(caller, view.run.plan_id, view.run.plan_version_id)
    order = {name: i for i, name in enumerate(job_names_of(plan_view.document))}
    jobs = sorted(view.jobs, key=lambda job: order.get(job.job_name, len(order)))
    ended = view.run.ended_at is not None
    can_act = caller.can(Permission.RUNS_WRITE)
    actions = {job.id: job_actions(caller, job, ended) for job in jobs}
    return {
        "run": view.run,
        "jobs": jobs,
        "actions": actions,
        "labels": _ACTION_LABELS,
        "graph": layout_plan(plan_view.document),
        "states": {job.job_name: job.status for job in jobs},
        "bars": _timeline(jobs),
        "can_act": can_act,
        "plan_view": plan_view,
        "rerun": rerun_choices(caller, view.run, jobs),
        "reruns": services.runs.reruns(caller, run_id),
    }


def _timeline(jobs: list[JobRunRecord]) -> dict[str, tuple[float, float]]:
    """Each started job's bar as (left, width) in percent of the run's span so far."""
    started = [job for job in jobs if job.started_at is not None]
    if not started:
        return {}
    now = datetime.now(UTC)
    first = min(job.started_at for job in started if job.started_at)
    last = max((job.ended_at or now) for job in started)
    span = max((last - first).total_seconds(), 1e-3)
    bars: dict[str, tuple[float, float]] = {}
    for job in started:
        assert job.started_at is not None
        left = (job.started_at - first).total_seconds() / span * 100
        width = ((job.ended_at or now) - job.started_at).total_seconds() / span * 100
        bars[job.id] = (round(left, 2), round(max(width, 0.5), 2))
    return bars


@router.get("/runs/{run_id}")
def run_page(request: Request, session: SessionDep, run_id: str) -> HTMLResponse:
    _viewing(request, session)
    context = run_context(session, run_id)
    return page(request, "run.html", session, title=f"Run of {context['run'].plan_path}", **context)


@router.get("/runs/{run_id}/live")
def run_live(request: Request, session: SessionDep, run_id: str) -> HTMLResponse:
    """The changing part of the run page, for htmx swaps."""
    _viewing(request, session)
    return page(request, "_run_live.html", session, **run_context(session, run_id))


@router.post("/runs/{run_id}/stop")
async def stop_run(request: Request, session: SessionDep, run_id: str) -> Response:
    await _acting(request, session)
    await _blocking(session.services.runs.stop, session.caller, run_id)
    return _after_action(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/rerun")
async def rerun_run(request: Request, session: SessionDep, run_id: str) -> Response:
    """Re-run buttons: ``jobs`` = failed | all, or ``job`` = one job's name; the
    ``downstream`` and ``force`` boxes."""
    await _acting(request, session)
    form = await request.form()
    job, jobs = form.get("job"), form.get("jobs", "failed")
    selection: str | list[str] = [job] if isinstance(job, str) and job else str(jobs)
    await _blocking(
        session.services.runs.rerun,
        session.caller,
        run_id,
        selection,
        downstream=form.get("downstream") == "on",
        force=form.get("force") == "on",
    )
    return _after_action(request, f"/runs/{run_id}")


@router.post("/job-runs/{job_run_id}/{action}")
async def job_action(
    request: Request, session: SessionDep, job_run_id: str, action: str
) -> Response:
    await _acting(request, session)
    job_run = await _blocking(session.services.runs.act, session.caller, job_run_id, action)
    return _after_action(request, f"/runs/{job_run.plan_run_id}")


def _after_action(request: Request, target: str) -> Response:
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Trigger": "run-changed"})
    return RedirectResponse(target, status_code=303)


#: An attempt number, as the job-run page and its download take it (``?attempt=``).
AttemptQuery = Annotated[int | None, Query(ge=1, le=1000)]


@router.get("/job-runs/{job_run_id}")
def job_run_page(
    request: Request, session: SessionDep, job_run_id: str, attempt: AttemptQuery = None
) -> HTMLResponse:
    _viewing(request, session)
    services, caller = session.services, session.caller
    job_run = services.runs.job_run(caller, job_run_id)
    run = services.runs.get(caller, job_run.plan_run_id).run
    output = services.runs.output(caller, job_run_id, attempt=attempt)
    return page(
        request,
        "job_run.html",
        session,
        title=f"{job_run.job_name} in {run.plan_path}",
        job_run=job_run,
        run=run,
        output=output,
    )


@router.get("/job-runs/{job_run_id}/output.txt")
def job_run_output(
    request: Request, session: SessionDep, job_run_id: str, attempt: AttemptQuery = None
) -> Response:
    _viewing(request, session)
    output = session.services.runs.output(session.caller, job_run_id, attempt=attempt)
    return PlainTextResponse(
        output.text,
        headers={
            "Content-Disposition": f'attachment; filename="{job_run_id}-{output.attempt}.txt"'
        },
    )


# --- tools --------------------------------------------------------------------------------


@router.get("/cron")
def cron_page(
    request: Request,
    session: SessionDep,
    expression: Annotated[str, Query(max_length=200)] = "0 0 12 ? * MON-FRI",
    tz: Annotated[str, Query(max_length=64)] = "UTC",
) -> HTMLResponse:
    _viewing(request, session)
    template = "_cron_result.html" if request.headers.get("HX-Request") == "true" else "cron.html"
    try:
        preview = preview_cron(expression, tz, count=10)
        error = None
    except InvalidInput as exc:
        preview, error = None, exc
    return page(
        request,
        template,
        session,
        title="Cron expressions",
        expression=expression,
        tz=tz,
        preview=preview,
        error=error,
    )
