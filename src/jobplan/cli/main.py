"""Entry point of the ``jobplan`` command: builds settings once and dispatches to commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from jobplan import __version__
from jobplan.errors import JobplanError
from jobplan.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="jobplan",
    help="jobplan: Quartz-cron-scheduled, dependency-driven job plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


@app.command()
def version() -> None:
    """Print the jobplan version."""
    out.print(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(envvar="JOBPLAN_HOST", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(envvar="JOBPLAN_PORT", help="Bind port.")] = None,
    home: Annotated[
        str | None, typer.Option(envvar="JOBPLAN_HOME", help="Data folder (default ./var).")
    ] = None,
) -> None:
    """Run the server (API, scheduler and UI) until interrupted."""
    import uvicorn

    from jobplan.api import create_app
    from jobplan.logging import configure_logging

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if home is not None:
        overrides["home"] = home
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_level, settings.log_format)
    settings.ensure_home()
    try:
        application = create_app(settings)
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    uvicorn.run(application, host=settings.host, port=settings.port, log_config=None)


@app.command()
def cron(
    expression: Annotated[
        str, typer.Argument(help="Quartz cron expression, e.g. '0 15 10 ? * 6#3'.")
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone.")] = "UTC",
    count: Annotated[int, typer.Option("--count", "-n", help="How many fire times.")] = 5,
    after: Annotated[
        datetime | None, typer.Option(help="Start instant (default now, UTC).")
    ] = None,
    dst_gap: Annotated[
        str, typer.Option(help="Spring-forward gap: 'skip' (Quartz) or 'run_at_gap_end'.")
    ] = "skip",
) -> None:
    """Preview the next fire times of a Quartz cron expression, with a description."""
    from jobplan.service.cron_preview import preview_cron

    if dst_gap not in ("skip", "run_at_gap_end"):
        raise fail("--dst-gap must be 'skip' or 'run_at_gap_end'")
    gap: Literal["skip", "run_at_gap_end"] = "skip" if dst_gap == "skip" else "run_at_gap_end"
    if after is not None and after.tzinfo is None:
        from datetime import UTC

        after = after.replace(tzinfo=UTC)
    try:
        result = preview_cron(expression, tz, count, after, gap)
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    out.print(f"[bold]{result.expression}[/]  ({result.timezone})", highlight=False)
    out.print(result.description, highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("next fire time")
    for index, moment in enumerate(result.next_fire_times, start=1):
        table.add_row(str(index), moment.isoformat())
    if not result.next_fire_times:
        out.print("no future fire times")
    else:
        out.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
