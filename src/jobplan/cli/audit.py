"""``jobplan audit``: who did what on the server, and what it changed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from jobplan.cli.output import Format, OutputOption, emit, out, table, when
from jobplan.cli.remote import call, client_of

__all__ = ["audit_app"]

audit_app = typer.Typer(
    help="The audit log: changes and sign-ins (supervisors and admins).", no_args_is_help=True
)

Actor = Annotated[str | None, typer.Option(help="Only this user (name or id).")]
Action = Annotated[
    str | None, typer.Option(help="Only this action (plan.apply), or a family (plan.).")
]
TargetType = Annotated[
    str | None, typer.Option("--target-type", help="Only targets of this type (plan, user...).")
]
Target = Annotated[str | None, typer.Option(help="Only this target (id or path).")]
Since = Annotated[
    datetime | None, typer.Option(help="From this time (ISO 8601; UTC unless it says).")
]
Until = Annotated[datetime | None, typer.Option(help="Before this time.")]
Outcome = Annotated[str | None, typer.Option(help="done, refused or failed.")]
RequestId = Annotated[
    str | None,
    typer.Option("--request-id", help="Only the records of this request (its X-Request-ID)."),
]


def _params(**filters: Any) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in filters.items():
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        if value is not None:
            params[name] = str(value)
    return params


def _change(change: dict[str, Any]) -> str:
    if change["kind"] == "added":
        return f"+ {change['path']}" + (
            f" = {change['after']}" if change.get("after") is not None else ""
        )
    if change["kind"] == "removed":
        return f"- {change['path']}"
    if change.get("before") is None and change.get("after") is None:
        return f"~ {change['path']}"
    return f"~ {change['path']}: {change.get('before')} -> {change.get('after')}"


def _render(items: list[dict[str, Any]]) -> None:
    grid = table(
        "time",
        "who",
        "how",
        "action",
        "target",
        "outcome",
        "changes",
        wrap=("who", "target", "outcome", "changes"),
    )
    for item in items:
        outcome = item["outcome"]
        if outcome != "done":
            status = f" {item['status']}" if item.get("status") else ""
            outcome = f"{outcome}{status}: {item.get('message') or ''}"
        key = item["actor"].get("api_key_id")
        who = (item["actor"].get("name") or "?") + (f" (key {key})" if key else "")
        target = item["target"]
        grid.add_row(
            when(item["time"]),
            who,
            item.get("auth_method") or "-",
            item["action"],
            " ".join(p for p in (target.get("type"), target.get("path") or target.get("id")) if p),
            outcome,
            "\n".join(_change(c) for c in item.get("changes") or []),
        )
    out.print(grid)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    actor: Actor = None,
    action: Action = None,
    target_type: TargetType = None,
    target: Target = None,
    since: Since = None,
    until: Until = None,
    outcome: Outcome = None,
    request_id: RequestId = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (newest first).")] = 0,
    output: OutputOption = Format.TABLE,
) -> None:
    """List audit records, newest first, with what each change changed."""
    params = _params(
        actor=actor,
        action=action,
        target_type=target_type,
        target=target,
        since=since,
        until=until,
        outcome=outcome,
        request_id=request_id,
        limit=limit,
        offset=offset,
    )
    items = call(client_of(ctx).get, "/api/v1/audit", params=params)
    emit(output, items, _render)


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    actor: Actor = None,
    action: Action = None,
    target_type: TargetType = None,
    target: Target = None,
    since: Since = None,
    until: Until = None,
    outcome: Outcome = None,
    request_id: RequestId = None,
) -> None:
    """Write every matching record to standard output as JSON Lines, oldest first."""
    params = _params(
        actor=actor,
        action=action,
        target_type=target_type,
        target=target,
        since=since,
        until=until,
        outcome=outcome,
        request_id=request_id,
    )
    query = f"?{urlencode(params)}" if params else ""
    call(
        client_of(ctx).download,
        f"/api/v1/audit/export{query}",
        sys.stdout.buffer,
        lambda done, total: None,
    )
    sys.stdout.flush()
