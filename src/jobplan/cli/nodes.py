"""``jobplan nodes``: the nodes of the cluster and whether they still heartbeat."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobplan.cli.output import Format, OutputOption, emit, fail, out, table, when
from jobplan.cli.remote import call, client_of

__all__ = ["nodes"]

_STATES = ("live", "stale", "stopped")


def nodes(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option(help="Only nodes in this state: live, stale or stopped.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    output: OutputOption = Format.TABLE,
) -> None:
    """List the nodes (jobplan serve processes): live, stale or stopped.

    A node is stale when it has not heartbeated for a lease (JOBPLAN_LEASE_SECONDS), stopped
    after a clean shutdown. Needs a supervisor or admin."""
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        if state not in _STATES:
            raise fail(f"--state must be one of {', '.join(_STATES)}, not {state!r}")
        params["state"] = state
    items = call(client_of(ctx).get, "/api/v1/nodes", params=params)
    emit(output, items, _table)


def _table(items: list[dict[str, Any]]) -> None:
    grid = table("name", "state", "version", "pid", "started", "heartbeat", "runs", "id")
    for node in items:
        grid.add_row(
            node["name"],
            node["state"],
            node["version"] or "-",
            str(node["pid"] or "-"),
            when(node["started_at"]),
            when(node["heartbeat_at"]),
            ", ".join(node["loops"]) or "-",
            node["id"],
        )
    out.print(grid)
