"""``jobplan agents``: register, list and revoke the tenant's remote agents."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobplan.cli.output import Format, OutputOption, bold, emit, fail, line, out, table, when
from jobplan.cli.remote import call, client_of, segment

__all__ = ["agents_app"]

agents_app = typer.Typer(help="Remote agents of the tenant (docs/agents.md).", no_args_is_help=True)

_STATES = ("online", "offline", "revoked")


@agents_app.command("create")
def agents_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name, unique in the tenant.")],
    label: Annotated[
        list[str] | None, typer.Option(help="A label jobs may route by; repeat for several.")
    ] = None,
    output: OutputOption = Format.TABLE,
) -> None:
    """Register an agent; its key is printed once (give it to `jobplan agent --key`)."""
    created = call(
        client_of(ctx).post, "/api/v1/agents", json={"name": name, "labels": label or []}
    )

    def render(agent: dict[str, Any]) -> None:
        out.print(line("Agent ", bold(agent["name"]), " registered. Its key (shown only now):"))
        print(agent["key"])

    emit(output, created, render)


@agents_app.command("list")
def agents_list(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option(help="Only agents in this state: online, offline or revoked.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many.")] = 0,
    output: OutputOption = Format.TABLE,
) -> None:
    """List the tenant's agents, online or offline (supervisors and admins)."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if state is not None:
        if state not in _STATES:
            raise fail(f"--state must be one of {', '.join(_STATES)}, not {state!r}")
        params["state"] = state
    emit(output, call(client_of(ctx).get, "/api/v1/agents", params=params), _table)


@agents_app.command("revoke")
def agents_revoke(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's name or id.")],
    output: OutputOption = Format.TABLE,
) -> None:
    """Revoke an agent: its key stops working at once."""
    revoked = call(client_of(ctx).delete, f"/api/v1/agents/{segment(agent, 'agent')}")
    emit(output, revoked, lambda a: out.print(line("Agent ", bold(a["name"]), " revoked.")))


def _table(items: list[dict[str, Any]]) -> None:
    grid = table("name", "state", "labels", "host", "version", "heartbeat", "slots", "runs", "id")
    for agent in items:
        grid.add_row(
            agent["name"],
            agent["state"],
            ",".join(agent["labels"]) or "-",
            agent["host"] or "-",
            agent["version"] or "-",
            when(agent["last_heartbeat"]),
            str(agent["slots"] if agent["slots"] is not None else "-"),
            str(agent["running_job_runs"]),
            agent["id"],
        )
    out.print(grid)
