"""``jobplan notifications``: what the server told (or failed to tell) about runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobplan.cli.output import Format, OutputOption, emit, out, table, when
from jobplan.cli.remote import call, client_of

__all__ = ["notifications_app"]

notifications_app = typer.Typer(
    help="Messages sent about runs (webhooks, emails): delivered, pending or failed.",
    no_args_is_help=True,
)


@notifications_app.command("list")
def notifications_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only messages in this state: pending, sent or failed.")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Only this plan (id or folder/name).")] = None,
    run: Annotated[str | None, typer.Option(help="Only this plan run.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    output: OutputOption = Format.TABLE,
) -> None:
    """List messages, newest first, with the reason of the last failed attempt."""
    params: dict[str, str | int] = {"limit": limit}
    for name, value in (("status", status), ("plan", plan), ("run", run)):
        if value is not None:
            params[name] = value
    emit(output, call(client_of(ctx).get, "/api/v1/notifications", params=params), _table)


def _table(items: list[dict[str, Any]]) -> None:
    grid = table(
        "created",
        "event",
        "plan",
        "recipient",
        "status",
        "tries",
        "last error",
        wrap=("plan", "recipient", "last error"),
    )
    for item in items:
        grid.add_row(
            when(item["created_at"]),
            item["event"],
            item["plan"],
            item["recipient"],
            item["status"],
            str(item["attempts"]),
            item["last_error"] or "",
        )
    out.print(grid)
