"""``jobplan services``: the tenant's service registry on the server (name -> base URL).

HTTP jobs that name a service (Volt MX jobs) call ``<base URL>/<operation>``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from jobplan.cli.output import Format, OutputOption, bold, emit, line, out, table, when
from jobplan.cli.remote import call, client_of

__all__ = ["services_app"]

services_app = typer.Typer(
    help="The service registry: where jobs naming a service send their calls.",
    no_args_is_help=True,
)


def _path(name: str) -> str:
    return f"/api/v1/services/{quote(name, safe='')}"


@services_app.command("register")
def services_register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Service name, as jobs give it (serviceName).")],
    url: Annotated[str, typer.Argument(help="Base URL; jobs call <URL>/<operation>.")],
    description: Annotated[str, typer.Option(help="What the service is.")] = "",
) -> None:
    """Register a service, or point it at a new base URL."""
    body = {"base_url": url, "description": description}
    saved = call(client_of(ctx).put, _path(name), json=body)
    out.print(line("service ", bold(saved["name"]), f" -> {saved['base_url']}"), highlight=False)


@services_app.command("list")
def services_list(ctx: typer.Context, output: OutputOption = Format.TABLE) -> None:
    """List the registered services."""
    emit(output, call(client_of(ctx).get, "/api/v1/services", params={"limit": 500}), _table)


def _table(items: list[dict[str, Any]]) -> None:
    grid = table("name", "base URL", "updated", wrap=("name", "base URL"))
    for item in items:
        grid.add_row(item["name"], item["base_url"], when(item["updated_at"]))
    out.print(grid)


@services_app.command("remove")
def services_remove(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Service name.")]
) -> None:
    """Unregister a service; jobs naming it fail from their next run on."""
    call(client_of(ctx).delete, _path(name))
    out.print(f"service '{name}' removed")
