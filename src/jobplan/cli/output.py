"""Console output shared by the CLI commands."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["err", "fail", "out", "table", "when"]

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise (2: bad input, 1: refused)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def table(
    *columns: str,
    ids: tuple[str, ...] = ("id", "run", "job run"),
    wrap: tuple[str, ...] = ("comment", "plan", "path", "scopes", "name", "job", "by"),
) -> Table:
    """A compact, borderless table that fits 80 columns: id columns are never cut (they are
    meant to be copied), free-text columns wrap, the rest stay on one line."""
    result = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for name in columns:
        if name in ids:
            result.add_column(name, no_wrap=True, min_width=16)
        elif name in wrap:
            result.add_column(name, overflow="fold", min_width=8)
        else:
            result.add_column(name, no_wrap=True, min_width=len(name))
    return result


def when(value: str | None) -> str:
    """An API timestamp, short: the time of day, with the date only when it is not today."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value).astimezone()
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")
