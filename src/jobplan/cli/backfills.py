"""``jobplan runs backfill|backfills|backfill-cancel``: a plan's past fire times as runs
(docs/backfill.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobplan.cli.output import Format, OutputOption, bold, emit, fail, line, out, table, when
from jobplan.cli.remote import call, client_of, resolve_plan_id, segment

__all__ = ["register"]

STATES = ("running", "complete", "cancelled")
_WHEN = (
    "ISO 8601 date or date-time (2026-11-26, 2026-11-26T06:00); without a UTC offset it is "
    "read in the plan window's time zone."
)


def backfill(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")],
    start: Annotated[
        str, typer.Option("--from", help=f"First instant of the range (included). {_WHEN}")
    ],
    end: Annotated[str, typer.Option("--to", help=f"End of the range (excluded). {_WHEN}")],
    max_active: Annotated[
        int,
        typer.Option(
            "--max-active",
            min=1,
            max=50,
            help="Runs open at once (1-50); the next opens as one ends.",
        ),
    ] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the fire times; open nothing.")
    ] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """Open one run per past fire time of a plan's window in [--from, --to), oldest first."""
    client = client_of(ctx)
    body = {"start": start, "end": end, "max_active": max_active, "dry_run": dry_run}
    answer = call(client.post, f"/api/v1/plans/{resolve_plan_id(client, plan)}/backfill", json=body)
    emit(output, answer, _started_text)


def _started_text(answer: dict[str, Any]) -> None:
    fires = answer["fires"]
    started = answer["backfill"]
    if started is None:
        out.print(
            line(bold(str(len(fires))), f" fire times ({answer['timezone']}); nothing opened:"),
            highlight=False,
        )
        for fire in fires:
            out.print(fire, highlight=False)
        return
    out.print(
        line(
            "backfill ",
            bold(started["id"]),
            f" of {started['plan_path']}: {started['total']} fire times "
            f"({answer['timezone']}), {started['opened']} open now, "
            f"at most {started['max_active']} at once",
        ),
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"progress: jobplan runs backfills {started['id']}; "
        f"cancel: jobplan runs backfill-cancel {started['id']}",
        highlight=False,
        soft_wrap=True,
    )


def backfills(
    ctx: typer.Context,
    backfill_id: Annotated[
        str | None, typer.Argument(help="A backfill id (default: list them).")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Only backfills of this plan.")] = None,
    state: Annotated[
        str | None, typer.Option(help=f"Only backfills in this state: {', '.join(STATES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    output: OutputOption = Format.TABLE,
) -> None:
    """List backfills with their progress, newest first, or show one."""
    client = client_of(ctx)
    if backfill_id is not None:
        if plan or state:
            raise fail("--plan and --state filter the list: leave them out with a backfill id")
        shown = call(client.get, f"/api/v1/backfills/{segment(backfill_id, 'backfill id')}")
        emit(output, [shown] if output is Format.TABLE else shown, _table)
        return
    if state is not None and state not in STATES:
        raise fail(f"--state must be one of {', '.join(STATES)}, got {state!r}")
    params: dict[str, Any] = {"limit": limit}
    if plan:
        params["plan"] = plan
    if state:
        params["state"] = state
    emit(output, call(client.get, "/api/v1/backfills", params=params), _table)


def _table(items: list[dict[str, Any]]) -> None:
    grid = table("id", "plan", "state", "fires", "opened", "active", "done", "failed", "from", "to")
    for item in items:
        grid.add_row(
            item["id"],
            item["plan_path"],
            item["state"],
            str(item["total"]),
            str(item["opened"]),
            str(item["active"]),
            str(item["done"]),
            str(item["failed"]),
            when(item["start"]),
            when(item["end"]),
        )
    out.print(grid)


def backfill_cancel(
    ctx: typer.Context,
    backfill_id: Annotated[str, typer.Argument(help="Backfill id.")],
) -> None:
    """Cancel a backfill: no more of its runs open (those open go on)."""
    cancelled = call(
        client_of(ctx).post, f"/api/v1/backfills/{segment(backfill_id, 'backfill id')}/cancel"
    )
    out.print(
        f"backfill {cancelled['id']} {cancelled['state']}: {cancelled['opened']} of "
        f"{cancelled['total']} fire times opened, {cancelled['active']} still open",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the backfill commands to ``jobplan runs``."""
    app.command("backfill")(backfill)
    app.command("backfills")(backfills)
    app.command("backfill-cancel")(backfill_cancel)
