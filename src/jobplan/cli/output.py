"""Console output shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, TextIO, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = [
    "Format",
    "OutputOption",
    "bold",
    "emit",
    "err",
    "exit_code_mode",
    "fail",
    "line",
    "out",
    "table",
    "when",
]

T = TypeVar("T")

PIPED_WIDTH = 1_000_000
"""The width of standard output when it is not a terminal: unbounded in practice, so that a
table piped to a file, ``grep`` or ``awk`` keeps whole values and one line per row, whatever
the terminal behind standard error (Rich would take its width) or ``COLUMNS`` say."""


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


# Markup is off: server messages, plan and entry names, help and user input are printed as
# they are (``[[agent.name]]`` or ``profiles/[/x].json`` are text, not Rich tags). Styling is
# given explicitly with :func:`line` and :func:`bold`.
# Standard error too: a server's banner and messages written to a log file or a journal are
# not folded at 80 columns (a URL or a command cut in two).
out = Console(markup=False, width=None if _is_terminal(sys.stdout) else PIPED_WIDTH)
err = Console(stderr=True, markup=False, width=None if _is_terminal(sys.stderr) else PIPED_WIDTH)


class Format(StrEnum):
    """What a list or show command prints."""

    TABLE = "table"
    """For people: a table or text (the default)."""
    JSON = "json"
    """The API's own answer, unchanged: a list command prints the JSON array the API returned
    for the page asked (``--limit``), a show command the object."""
    YAML = "yaml"
    """The same data as ``json``, as YAML."""


OutputOption = Annotated[
    Format,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="Output format: table, or json / yaml (the API's objects, unchanged).",
    ),
]


def emit(output: Format, data: T, render_table: Callable[[T], None]) -> None:
    """Print ``data`` (what the API answered) as ``output`` asks: JSON or YAML as it is, or
    through ``render_table`` for people."""
    if output is Format.JSON:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif output is Format.YAML:
        import yaml  # only this format needs it

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        render_table(data)
    sys.stdout.flush()


@contextmanager
def exit_code_mode(enabled: bool, refused: int = 3) -> Iterator[None]:
    """With ``--exit-code`` exit 1 means "there are differences", so the failures that exit 1
    elsewhere (refused by the server, unreachable, a failed job) exit ``refused`` instead."""
    try:
        yield
    except typer.Exit as exc:
        if enabled and exc.exit_code == 1:
            raise typer.Exit(refused) from exc
        raise


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
    """A compact, borderless table that fits the terminal: id columns are never cut (they are
    meant to be copied), free-text columns wrap, the rest stay on one line. Piped (standard
    output not a terminal) nothing wraps: one line per row, whole values."""
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
