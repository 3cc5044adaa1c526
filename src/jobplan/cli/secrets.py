"""``jobplan secrets``: the tenant's secrets (set, list, delete) on the server, and the key
that seals them (new-key, rotate-key) on this machine.

A value is read from a prompt that does not echo it, or from standard input (``--stdin``),
never from the command line (where ``ps`` and shell history would see it)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from jobplan.cli.output import Format, OutputOption, bold, emit, err, fail, line, out, table, when
from jobplan.cli.remote import call, client_of, segment
from jobplan.errors import JobplanError
from jobplan.settings import Settings

__all__ = ["secrets_app"]

secrets_app = typer.Typer(
    help="Secrets of the tenant, referred to as ${secret:NAME} in plans (docs/secrets.md).",
    no_args_is_help=True,
)


def _read_value(stdin: bool) -> str:
    if stdin:
        value = sys.stdin.read()
        # one trailing line break is how a pipe or a file ends, not part of the value
        return value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not sys.stdin.isatty():
        raise fail("standard input is not a terminal: give --stdin to read the value from it")
    # on stderr: standard output is kept for what the command prints (-o json)
    typed: str = typer.prompt("Value", hide_input=True, confirmation_prompt=True, err=True)
    return typed


@secrets_app.command("set")
def secrets_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The secret's name (plans say ${secret:NAME}).")],
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin", help="Read the value from standard input (one final line break dropped)."
        ),
    ] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """Create or replace a secret; the value is prompted for (not echoed) or read from --stdin."""
    value = _read_value(stdin)
    if not value:
        raise fail("the value is empty: nothing was stored")
    path = f"/api/v1/secrets/{segment(name, 'secret')}"
    stored = call(client_of(ctx).put, path, json={"value": value})
    emit(output, stored, lambda s: out.print(line("Secret ", bold(s["name"]), " stored.")))


@secrets_app.command("list")
def secrets_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many.")] = 0,
    output: OutputOption = Format.TABLE,
) -> None:
    """List the tenant's secrets: names, when and by whom (never values)."""
    params = {"limit": limit, "offset": offset}
    emit(output, call(client_of(ctx).get, "/api/v1/secrets", params=params), _table)


@secrets_app.command("delete")
def secrets_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The secret's name.")],
) -> None:
    """Delete a secret: jobs that start from now on and refer to it fail."""
    call(client_of(ctx).delete, f"/api/v1/secrets/{segment(name, 'secret')}")
    out.print(line("Secret ", bold(name), " deleted."))


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a new random key for JOBPLAN_SECRETS_KEY (nothing is stored)."""
    from jobplan.service.secrets import new_key

    print(new_key())


@secrets_app.command("rotate-key")
def secrets_rotate_key(
    home: Annotated[
        str | None,
        typer.Option("--home", envvar="JOBPLAN_HOME", help="Data folder (default ./var)."),
    ] = None,
) -> None:
    """Seal every secret anew under a new key (on the data folder: see docs/secrets.md).

    Without JOBPLAN_SECRETS_KEY: <home>/secrets.key gets a new key. With it: give the new
    key first and the old ones after it (JOBPLAN_SECRETS_KEY=new,old), then keep the new one
    alone."""
    from jobplan.service.local_admin import rotate_secrets_key_locally

    settings = Settings(home=home) if home else Settings()
    try:
        key_id, changed, configured = rotate_secrets_key_locally(settings)
    except JobplanError as exc:
        raise fail(str(exc), 1) from exc
    err.print(f"{changed} secret(s) sealed anew under key {key_id}", highlight=False)
    if configured:
        err.print(
            "now set JOBPLAN_SECRETS_KEY to the new key alone on every node",
            highlight=False,
        )


def _table(items: list[dict[str, Any]]) -> None:
    grid = table("name", "updated", "updated by", "created", "created by")
    for secret in items:
        grid.add_row(
            secret["name"],
            when(secret["updated_at"]),
            secret["updated_by"],
            when(secret["created_at"]),
            secret["created_by"],
        )
    out.print(grid)
