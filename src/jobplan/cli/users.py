"""``jobplan users`` on the server: the users of the connection's tenant, through
``/api/v1/users`` (the offline commands on the data folder are in :mod:`jobplan.cli.admin`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobplan.cli.client import ApiClient
from jobplan.cli.output import Format, OutputOption, emit, fail, out, table, when
from jobplan.cli.remote import call, client_of, segment
from jobplan.model import Role

__all__ = ["create_user_online", "register_online_commands"]

PAGE = 500  # the API's largest page
UUID_LENGTH = 36

UserArgument = Annotated[str, typer.Argument(help="User name or id.")]


def _find(client: ApiClient, user: str) -> dict[str, Any]:
    """The user named ``user`` (a login name or an id) in the connection's tenant."""
    if len(user) == UUID_LENGTH and user.count("-") == 4:
        found: dict[str, Any] = call(client.get, f"/api/v1/users/{segment(user, 'user id')}")
        return found
    offset = 0
    while True:
        page = call(client.get, "/api/v1/users", params={"limit": PAGE, "offset": offset})
        for item in page:
            if item["username"] == user:
                return dict(item)
        if len(page) < PAGE:
            raise fail(f"user '{user}' not found in this tenant", 1)
        offset += PAGE


def _users_table(items: list[dict[str, Any]]) -> None:
    grid = table("name", "display name", "role", "disabled", "created", "id")
    for item in items:
        grid.add_row(
            item["username"],
            item["display_name"],
            item["role"] + (" (system admin)" if item["is_system_admin"] else ""),
            "yes" if item["disabled"] else "no",
            when(item["created_at"]),
            item["id"],
        )
    out.print(grid)


def _user_line(verb: str) -> Any:
    def render(user: dict[str, Any]) -> None:
        state = ", disabled" if user["disabled"] else ""
        out.print(
            f"user '{user['username']}' {verb}: {user['role']}{state} ({user['id']})",
            highlight=False,
            soft_wrap=True,
        )

    return render


def users_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=PAGE, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many.")] = 0,
    output: OutputOption = Format.TABLE,
) -> None:
    """List the users of the tenant (on the server)."""
    items = call(client_of(ctx).get, "/api/v1/users", params={"limit": limit, "offset": offset})
    emit(output, items, _users_table)


def users_show(ctx: typer.Context, user: UserArgument, output: OutputOption = Format.TABLE) -> None:
    """Show one user of the tenant (on the server)."""
    emit(output, _find(client_of(ctx), user), _user_line("is"))


def _patch(ctx: typer.Context, user: str, body: dict[str, Any], verb: str, output: Format) -> None:
    client = client_of(ctx)
    found = _find(client, user)
    changed = call(client.patch, f"/api/v1/users/{segment(found['id'], 'user id')}", json=body)
    emit(output, changed, _user_line(verb))


def users_role(
    ctx: typer.Context,
    user: UserArgument,
    role: Annotated[Role, typer.Argument(help="The new role in the tenant.")],
    output: OutputOption = Format.TABLE,
) -> None:
    """Give a user another role in the tenant (on the server)."""
    _patch(ctx, user, {"role": role.value}, "now", output)


def users_disable(
    ctx: typer.Context, user: UserArgument, output: OutputOption = Format.TABLE
) -> None:
    """Disable a user: they can no longer sign in (on the server)."""
    _patch(ctx, user, {"disabled": True}, "disabled", output)


def users_enable(
    ctx: typer.Context, user: UserArgument, output: OutputOption = Format.TABLE
) -> None:
    """Enable a disabled user again (on the server)."""
    _patch(ctx, user, {"disabled": False}, "enabled", output)


def create_user_online(
    ctx: typer.Context,
    username: str,
    password: str,
    role: Role,
    display_name: str | None,
    output: Format,
) -> None:
    """``users create`` on the server: the password goes only in the request body."""
    body: dict[str, Any] = {"username": username, "password": password, "role": role.value}
    if display_name is not None:
        body["display_name"] = display_name
    created = call(client_of(ctx).post, "/api/v1/users", json=body)
    emit(output, created, _user_line("created"))


def register_online_commands(app: typer.Typer) -> None:
    """Add the server commands to ``jobplan users`` (``create`` is shared with the offline
    one and lives in :mod:`jobplan.cli.admin`)."""
    app.command("list")(users_list)
    app.command("show")(users_show)
    app.command("role")(users_role)
    app.command("disable")(users_disable)
    app.command("enable")(users_enable)
