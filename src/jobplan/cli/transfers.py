"""``jobplan export`` and ``jobplan import``: bundle jobs on the server, watched with progress
bars; Ctrl-C cancels the job on the server."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from jobplan.cli.client import ApiClient, ApiError
from jobplan.cli.output import (
    Format,
    OutputOption,
    bold,
    emit,
    err,
    exit_code_mode,
    fail,
    line,
    out,
    table,
)
from jobplan.cli.remote import call, client_of

__all__ = ["export_bundle", "import_bundle"]

FINISHED = ("completed", "failed", "cancelled", "closed_by_timeout")
_POLL = 0.3  # seconds between status requests


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _watch(client: ApiClient, job: dict[str, Any], what: str) -> dict[str, Any]:
    """Poll a job until it finishes, showing its percentage; Ctrl-C cancels it."""
    # built from the id, not the server's absolute status_url: credentials only ever go to
    # the server the user named (a proxy may make that URL another host or plain HTTP)
    url = f"/api/v1/{job['object']}s/{job['id']}"
    try:
        with _progress() as bar:
            task = bar.add_task(what, total=100)
            while job["status"] not in FINISHED:
                time.sleep(_POLL)
                job = call(client.get, url)
                bar.update(task, completed=job["progress"])
    except KeyboardInterrupt:
        try:
            client.patch(url, json={"status": "cancelled"})
            err.print(f"cancelled {job['object']} job {job['id']}")
        except ApiError as exc:
            err.print(f"could not cancel {job['object']} job {job['id']}: {exc.message}")
        raise typer.Exit(130) from None
    return job


def _ended_badly(job: dict[str, Any]) -> typer.Exit:
    return fail(f"{job['object']} job {job['id']} {job['status']}: {job['reason'] or ''}", 1)


def export_bundle(
    ctx: typer.Context,
    plans: Annotated[
        list[str] | None,
        typer.Argument(help=escape("Plans: id, folder/name or folder/name[version-prefix].")),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the zip.")] = Path(
        "plans.zip"
    ),
    folder: Annotated[
        list[str] | None, typer.Option("--folder", "-f", help="Every plan under this folder.")
    ] = None,
    version_id: Annotated[
        list[str] | None, typer.Option("--version-id", help="A plan version by id.")
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Only each plan's latest version (default: all).")
    ] = False,
    tokens: Annotated[
        bool, typer.Option("--tokens", help=escape("Write environment values as [[name]] tokens."))
    ] = False,
    env_suffix: Annotated[
        bool,
        typer.Option(
            "--env-suffix",
            help=escape("With --tokens: plan names eod_PROD become eod_[[env.name]]."),
        ),
    ] = False,
    history: Annotated[bool, typer.Option("--history", help="Include run history.")] = False,
    runtime: Annotated[
        bool, typer.Option("--runtime", help="Only what running the plans needs.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the output file.")] = False,
) -> None:
    """Export plans as a zip bundle (an asynchronous job on the server)."""
    if output.exists() and not force:
        raise fail(f"{output} exists; pass --force to overwrite it")
    if not output.parent.is_dir():
        raise fail(f"folder {output.parent} does not exist")
    client = client_of(ctx)
    body = {
        "plans": plans or [],
        "folders": folder or [],
        "version_ids": version_id or [],
        "version_filter": "latest" if latest else "all",
        "file_filter": "runtime" if runtime else "migrate",
        "with_tokens": tokens,
        "context_name": "env_suffix" if env_suffix else "keep",
        "include_history": history,
    }
    job = _watch(client, call(client.post, "/api/v1/exports", json=body), "exporting")
    if job["status"] != "completed":
        raise _ended_badly(job)
    file = job["file"]
    descriptor, temporary = tempfile.mkstemp(prefix=".jobplan-", dir=output.parent)
    try:
        with os.fdopen(descriptor, "wb") as target, _progress() as bar:
            task = bar.add_task("downloading", total=file["size"])
            sha256 = call(
                client.download,
                f"/api/v1/exports/{job['id']}/file",
                target,
                lambda done, _total: bar.update(task, completed=done),
            )
        if sha256 != file["sha256"]:
            raise fail(f"the download's SHA-256 {sha256} differs from the job's {file['sha256']}")
        os.replace(temporary, output)
    finally:
        Path(temporary).unlink(missing_ok=True)
    versions = job.get("versions") or []
    out.print(
        line(
            f"exported {len(job.get('plans') or [])} plan(s), {len(versions)} version(s) to ",
            bold(output),
            f" ({file['size']} bytes, sha256 {file['sha256']})",
        ),
        highlight=False,
    )


def _token_values(values: list[str] | None) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise fail(f"--token must look like NAME=VALUE, got {item!r}")
        tokens[name] = value
    return tokens


def import_bundle(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="The zip bundle to import.")],
    token: Annotated[
        list[str] | None,
        typer.Option("--token", "-t", help="A token's value: NAME=VALUE (e.g. env.name=prod)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    on_conflict: Annotated[
        str,
        typer.Option(help="When a plan exists and differs: abort, replace or add_version."),
    ] = "abort",
    folder: Annotated[
        str, typer.Option(help="Folder for the plans of Ikasan exports (default: root).")
    ] = "",
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="With --dry-run: exit 1 when the import would add or change a plan or meets"
            " a conflict, 0 when it would change nothing; errors then exit 2 (bad input) or 3"
            " (refused, unreachable, job failed).",
        ),
    ] = False,
    output: OutputOption = Format.TABLE,
) -> None:
    """Import a zip bundle: all its plans in one transaction, or none."""
    if on_conflict not in ("abort", "replace", "add_version"):
        raise fail(f"--on-conflict must be abort, replace or add_version, got {on_conflict!r}")
    if exit_code and not dry_run:
        raise fail("--exit-code needs --dry-run")
    if not bundle.is_file():
        raise fail(f"{bundle} is not a file")
    with exit_code_mode(exit_code):
        job = _import(ctx, bundle, token, dry_run, on_conflict, folder)
    emit(output, job, lambda done: _import_report(done, dry_run))
    if exit_code and any(job.get(key) for key in ("added", "changed", "conflicts")):
        raise typer.Exit(1)


def _import(
    ctx: typer.Context,
    bundle: Path,
    token: list[str] | None,
    dry_run: bool,
    on_conflict: str,
    folder: str,
) -> dict[str, Any]:
    """Run the import job on the server and watch it; the finished job (the API's object)."""
    client = client_of(ctx)
    form = {
        "tokens": json.dumps(_token_values(token)),
        "on_conflict": on_conflict,
        "dry_run": "true" if dry_run else "false",
        "folder": folder,
    }
    with bundle.open("rb") as handle:
        created = call(
            client.post,
            "/api/v1/imports",
            files={"file": (bundle.name, handle, "application/zip")},
            data=form,
        )
    job = _watch(client, created, "importing")
    if job["status"] != "completed":
        raise _ended_badly(job)
    return job


def _import_report(job: dict[str, Any], dry_run: bool) -> None:
    grid = table("plan", "action", "versions", "changes", wrap=("plan", "changes"))
    for item in job.get("plans") or []:
        changes = item["changes"]
        more = f" (+{len(changes) - 3} more)" if len(changes) > 3 else ""
        shown = "; ".join(changes[:3]) + more
        grid.add_row(item["plan"], item["action"], ", ".join(item["versions"]) or "-", shown)
    out.print(grid)
    for warning in job.get("warnings") or []:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    counts = ", ".join(
        f"{len(job.get(key) or [])} {key}" for key in ("added", "changed", "unchanged")
    )
    if dry_run:
        conflicts = job.get("conflicts") or []
        note = (
            f"; {len(conflicts)} conflict(s) would make the import fail (on-conflict abort)"
            if conflicts
            else ""
        )
        out.print(f"dry run: {counts} — nothing was changed{note}", highlight=False)
    else:
        out.print(f"imported: {counts}", highlight=False)
