"""``jobplan calendars``: the tenant's named calendars of days (docs/calendars.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from jobplan.cli.output import Format, OutputOption, bold, emit, fail, line, out, table, when
from jobplan.cli.remote import call, client_of, segment

__all__ = ["calendars_app"]

calendars_app = typer.Typer(
    help="Calendars of days windows skip or fire only on (docs/calendars.md).",
    no_args_is_help=True,
)


def _read_days(path: Path) -> list[str]:
    """One day per line (``YYYY-MM-DD`` or ``MM-DD``); blank lines and ``#`` comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise fail(f"{path} is not UTF-8 text") from exc
    return [d for raw in text.splitlines() if (d := raw.split("#", 1)[0].strip())]


def _shown(action: str) -> Any:
    def render(calendar: dict[str, Any]) -> None:
        used = f", used by {len(calendar['plans'])} plan(s)" if calendar["plans"] else ""
        out.print(
            line(
                "Calendar ",
                bold(calendar["name"]),
                f" {action}: {len(calendar['days'])} days{used}.",
            )
        )

    return render


@calendars_app.command("create")
def calendars_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The calendar's name, unique in the tenant.")],
    day: Annotated[
        list[str] | None,
        typer.Option(help="A day: YYYY-MM-DD, or MM-DD for every year; repeat for several."),
    ] = None,
    days_file: Annotated[
        Path | None,
        typer.Option("--days-file", help="A file of days, one per line ('#' comments)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the calendar is.")] = "",
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the days of an existing calendar.")
    ] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """Create a calendar from a list of days (or replace one's days with --replace)."""
    days = [*(day or []), *(_read_days(days_file) if days_file else [])]
    body = {"description": description, "days": days}
    client = client_of(ctx)
    if replace:
        saved = call(client.put, f"/api/v1/calendars/{segment(name, 'calendar')}", json=body)
    else:
        saved = call(client.post, "/api/v1/calendars", json={"name": name, **body})
    emit(output, saved, _shown("replaced" if replace else "created"))


@calendars_app.command("import")
def calendars_import(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The calendar to create or replace.")],
    file: Annotated[Path, typer.Argument(help="An iCalendar (.ics) file.")],
    description: Annotated[str, typer.Option(help="What the calendar is.")] = "",
    output: OutputOption = Format.TABLE,
) -> None:
    """Create or replace a calendar with the days of an iCalendar file's events."""
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise fail(f"{file} is not UTF-8 text, so not an iCalendar file") from exc
    body = {"name": name, "description": description, "ics": text}
    saved = call(client_of(ctx).post, "/api/v1/calendars/import", json=body)
    emit(output, saved, _shown("imported"))


@calendars_app.command("list")
def calendars_list(ctx: typer.Context, output: OutputOption = Format.TABLE) -> None:
    """List the tenant's calendars."""

    def render(items: list[dict[str, Any]]) -> None:
        grid = table("name", "days", "updated", "description")
        for item in items:
            grid.add_row(
                item["name"], str(item["days"]), when(item["updated_at"]), item["description"]
            )
        out.print(grid)

    emit(output, call(client_of(ctx).get, "/api/v1/calendars"), render)


@calendars_app.command("show")
def calendars_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The calendar's name.")],
    output: OutputOption = Format.TABLE,
) -> None:
    """Show a calendar's days and the plans using it."""

    def render(calendar: dict[str, Any]) -> None:
        out.print(line(bold(calendar["name"]), f"  {calendar['description']}".rstrip()))
        out.print(f"days ({len(calendar['days'])}): " + (", ".join(calendar["days"]) or "-"))
        out.print("used by: " + (", ".join(calendar["plans"]) or "-"))

    found = call(client_of(ctx).get, f"/api/v1/calendars/{segment(name, 'calendar')}")
    emit(output, found, render)


@calendars_app.command("delete")
def calendars_delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The calendar's name.")]
) -> None:
    """Delete a calendar no plan uses."""
    call(client_of(ctx).delete, f"/api/v1/calendars/{segment(name, 'calendar')}")
    out.print(line("Calendar ", bold(name), " deleted."))
