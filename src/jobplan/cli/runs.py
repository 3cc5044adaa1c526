"""``jobplan runs``: start, stop, watch and act on runs on a server."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from jobplan.cli.client import ApiClient
from jobplan.cli.output import Format, OutputOption, bold, emit, err, fail, line, out, table, when
from jobplan.cli.remote import call, client_of, resolve_plan_id, segment

__all__ = ["runs_app"]

runs_app = typer.Typer(help="Plan runs and job runs on the server.", no_args_is_help=True)

ACTIONS = ("hold", "release", "skip", "unskip", "reset", "acknowledge", "kill")
NOT_STARTED = ("WAITING", "LOCK_QUEUED", "ON_HOLD")  # states a job run can still start from
MOVING = ("QUEUED", "RUNNING")  # plan run states --wait waits through
KILL_WAIT_SECONDS = 60.0
WAIT_POLL_SECONDS = 1.0


def _parameters(values: list[str] | None) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise fail(f"--param must look like NAME=VALUE, got {item!r}")
        parameters[name] = value
    return parameters


@runs_app.command("start")
def runs_start(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Override a parameter: NAME=VALUE.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Start even if the overlap policy says not.")] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """Start a plan run now."""
    client = client_of(ctx)
    body = {"parameters": _parameters(param), "force": force}
    started = call(client.post, f"/api/v1/plans/{resolve_plan_id(client, plan)}/runs", json=body)
    emit(output, started, _started_text)


def _started_text(started: dict[str, Any]) -> None:
    run = started["run"]
    out.print(
        line(
            f"{started['outcome']} run ",
            bold(run["id"]),
            f" of {run['plan_path']} version {run['version']}",
        )
    )


@runs_app.command("stop")
def runs_stop(
    ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Plan run id.")]
) -> None:
    """Stop a plan run: running jobs are killed, nothing else starts."""
    run = call(client_of(ctx).post, f"/api/v1/runs/{segment(run_id, 'run id')}/stop")
    out.print(f"run {run['id']} {run['status']}: {run['reason'] or ''}")


@runs_app.command("rerun")
def runs_rerun(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Plan run id (a finished or stalled run).")],
    failed: Annotated[
        bool, typer.Option("--failed", help="Re-run the failed jobs (the default).")
    ] = False,
    all_jobs: Annotated[bool, typer.Option("--all", help="Re-run every job that ran.")] = False,
    job: Annotated[
        list[str] | None,
        typer.Option("--job", "-j", help="Re-run this job (repeat for several)."),
    ] = None,
    downstream: Annotated[
        bool, typer.Option(help="Also re-run every job that depends on them.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(help="Reopen the run even if its overlap policy forbids it now."),
    ] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """Re-run a finished or stalled run in place: only the chosen jobs run again."""
    if failed + all_jobs + bool(job) > 1:
        raise fail("choose one of --failed, --all or --job NAME")
    jobs: str | list[str] = "all" if all_jobs else list(job) if job else "failed"
    body = {"jobs": jobs, "downstream": downstream, "force": force}
    result = call(client_of(ctx).post, f"/api/v1/runs/{segment(run_id, 'run id')}/rerun", json=body)
    emit(output, result, _rerun_text)


def _rerun_text(result: dict[str, Any]) -> None:
    run, rerun = result["run"], result["rerun"]
    out.print(
        line(
            f"re-run {rerun['number']} of run ",
            bold(run["id"]),
            f" ({run['plan_path']} {run['version']}, was {rerun['previous_status']}): "
            f"{', '.join(result['cleared'])} run again; the run is ",
            bold(run["status"]),
        ),
        highlight=False,
        soft_wrap=True,
    )


@runs_app.command("reruns")
def runs_reruns(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Plan run id.")],
    output: OutputOption = Format.TABLE,
) -> None:
    """List a run's re-runs with the results the jobs had before each."""
    reruns = call(client_of(ctx).get, f"/api/v1/runs/{segment(run_id, 'run id')}/reruns")
    emit(output, reruns, _reruns_table)


def _reruns_table(items: list[dict[str, Any]]) -> None:
    grid = table("re-run", "when", "by", "asked", "run was", "jobs before (attempt: status)")
    for rerun in items:
        asked = rerun["jobs_requested"]
        asked = asked if isinstance(asked, str) else ", ".join(asked)
        grid.add_row(
            str(rerun["number"]),
            when(rerun["requested_at"]),
            rerun["requested_by"],
            asked + (" + downstream" if rerun["downstream"] else ""),
            rerun["previous_status"],
            ", ".join(f"{j['job_name']} {j['attempt']}: {j['status']}" for j in rerun["jobs"]),
        )
    out.print(grid)


@runs_app.command("status")
def runs_status(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="A plan run id (default: list).")] = None,
    plan: Annotated[str | None, typer.Option(help="Only runs of this plan.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    status_only: Annotated[
        bool,
        typer.Option("--status", help="Print only the run's status word (e.g. COMPLETE)."),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait while the run is QUEUED or RUNNING, then print it; exit 0 if it is"
            " COMPLETE, 1 if it is ENDED or ERROR (an open ERROR run waits for an operator).",
        ),
    ] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """List recent plan runs, or show one run with its job runs."""
    client = client_of(ctx)
    if run_id is None:
        if status_only or wait:
            raise fail("--status and --wait need a RUN id")
        params: dict[str, Any] = {"limit": limit}
        if plan:
            params["plan"] = plan
        emit(output, call(client.get, "/api/v1/runs", params=params), _runs_table)
        return
    if status_only and output is not Format.TABLE:
        raise fail("--status prints the status word only; leave out -o/--output")
    path = f"/api/v1/runs/{segment(run_id, 'run id')}"
    run = call(client.get, path)
    while wait and run["status"] in MOVING:
        time.sleep(WAIT_POLL_SECONDS)
        run = call(client.get, path)
    if status_only:
        print(run["status"])
    else:
        emit(output, run, _run_text)
    if wait and run["status"] != "COMPLETE":
        raise typer.Exit(1)


def _runs_table(items: list[dict[str, Any]]) -> None:
    # "for": the fire time a run serves (a window's fire, a catch-up, a backfill), so the runs
    # of a backfill, all started within seconds, can be told apart
    grid = table("run", "plan", "status", "trigger", "for", "started")
    for run in items:
        grid.add_row(
            run["id"],
            run["plan_path"],
            run["status"],
            run["trigger"],
            when(run.get("scheduled_for")),
            when(run["started_at"]),
        )
    out.print(grid)


def _run_text(run: dict[str, Any]) -> None:
    out.print(
        line(
            "run ",
            bold(run["id"]),
            f" of {run['plan_path']} {run['version']}: ",
            bold(run["status"]),
            f" {run['reason'] or ''}",
        ),
        highlight=False,
        soft_wrap=True,
    )
    grid = table("job", "kind", "status", "try", "exit", "job run")
    for job in run["jobs"]:
        exit_code = job["exit_code"] if job["exit_code"] is not None else job["http_status"]
        grid.add_row(
            job["job_name"],
            job["kind"],
            job["status"],
            str(job["attempt"]),
            "-" if exit_code is None else str(exit_code),
            job["id"],
        )
    out.print(grid)
    for job in run["jobs"]:
        if job["reason"] or job["flags"]:
            flags = f" [{', '.join(job['flags'])}]" if job["flags"] else ""
            out.print(
                f"{job['job_name']}: {job['reason'] or ''}{flags}", highlight=False, markup=False
            )


@runs_app.command("logs")
def runs_logs(
    ctx: typer.Context,
    job_run_id: Annotated[str, typer.Argument(help="Job run id (see `runs status RUN`).")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream until it ends.")] = False,
    tail: Annotated[int | None, typer.Option(help="Only the last N characters.")] = None,
    attempt: Annotated[int | None, typer.Option(help="A given attempt (default: latest).")] = None,
) -> None:
    """Print a job run's output; --follow streams it while the job runs.

    With --follow, a job that has not started yet is waited for."""
    client = client_of(ctx)
    job = _wait_until_started(client, job_run_id) if follow else _job_run(client, job_run_id)
    if job["attempt"] == 0:
        err.print(
            f"job run {job['id']} ({job['job_name']}) has not run (it is {job['status']}): "
            "there is no output",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    params: dict[str, Any] = {}
    if attempt is not None:
        params["attempt"] = attempt
    if tail is not None and not follow:
        params["tail"] = tail
    after = -1
    printed = False
    while True:
        chunk = call(
            client.get,
            f"/api/v1/job-runs/{segment(job_run_id, 'job run id')}/output",
            params={**params, "after": after},
        )
        if chunk["text"]:
            out.print(chunk["text"], end="", highlight=False, soft_wrap=True)
            printed = True
        after = chunk["next_seq"]
        if not follow or chunk["complete"]:
            if follow:  # the last chunks may land with the completion
                final = call(
                    client.get,
                    f"/api/v1/job-runs/{segment(job_run_id, 'job run id')}/output",
                    params={**params, "after": after},
                )
                out.print(final["text"], end="", highlight=False, soft_wrap=True)
                printed = printed or bool(final["text"])
            if not printed:
                err.print(
                    f"attempt {chunk['attempt']} of job run {job['id']} ({job['job_name']}) "
                    "printed nothing",
                    highlight=False,
                    soft_wrap=True,
                )
            return
        params.setdefault("attempt", chunk["attempt"])
        time.sleep(0.5)


def _job_run(client: ApiClient, job_run_id: str) -> dict[str, Any]:
    job: dict[str, Any] = call(client.get, f"/api/v1/job-runs/{segment(job_run_id, 'job run id')}")
    return job


def _wait_until_started(client: ApiClient, job_run_id: str) -> dict[str, Any]:
    """The job run once it has started, or as it is when it can no longer start."""
    job = _job_run(client, job_run_id)
    told = False
    while job["attempt"] == 0 and job["status"] in NOT_STARTED:
        run = call(client.get, f"/api/v1/runs/{job['plan_run_id']}")
        if run["ended_at"] is not None:
            break
        if not told:
            err.print(
                f"waiting for job run {job['id']} ({job['job_name']}) to start "
                f"(it is {job['status']})...",
                highlight=False,
                soft_wrap=True,
            )
            told = True
        time.sleep(0.5)
        job = _job_run(client, job_run_id)
    return job


@runs_app.command("job")
def runs_job(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")],
    job_run_id: Annotated[str, typer.Argument(help="Job run id.")],
) -> None:
    """Act on a job run: hold, release, skip, unskip, reset, acknowledge or kill.

    A kill waits (up to a minute) for the job to end and says how it ended."""
    if action not in ACTIONS:
        raise fail(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    client = client_of(ctx)
    job = call(client.post, f"/api/v1/job-runs/{segment(job_run_id, 'job run id')}/{action}")
    asked = f"{action} job run {job['id']} ({job['job_name']})"
    if action != "kill":
        out.print(f"{asked}: done; it is now {job['status']}", highlight=False, soft_wrap=True)
        return
    # a kill is a request: the node running the job stops its processes, then records the end
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while job["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.3)
        job = _job_run(client, job_run_id)
    if job["status"] == "RUNNING":
        out.print(
            f"{asked}: requested; it is still RUNNING after {KILL_WAIT_SECONDS:.0f} s "
            f"(its processes are being stopped; see `jobplan runs status {job['plan_run_id']}`)",
            highlight=False,
            soft_wrap=True,
        )
    else:
        out.print(f"{asked}: done; it ended {job['status']}", highlight=False, soft_wrap=True)
