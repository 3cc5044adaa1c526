"""Console output shared by the CLI commands."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["bold", "err", "fail", "line", "out", "table", "when"]

# Markup is off: server messages, plan and entry names, help and user input are printed as
# they are (``[[agent.name]]`` or ``profiles/[/x].json`` are text, not Rich tags). Styling is
# given explicitly with :func:`line` and :func:`bold`.
out = Console(markup=False)
err = Console(stderr=True, markup=False)


def bold(text: object) -> tuple[str, str]:
    """A part of :func:`line` printed in bold."""
    return str(text), "bold"


def line(*parts: str | tuple[str, str]) -> Text:
    """Literal text from plain parts and ``(text, style)`` parts; nothing is parsed."""
    return Text.assemble(*parts)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise (2: bad input, 1: refused)."""
    err.print(line(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
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
