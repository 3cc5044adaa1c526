"""Console output shared by the CLI commands."""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["err", "fail", "out"]

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise (2: bad input, 1: refused)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)
