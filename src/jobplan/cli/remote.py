"""Commands that talk to a jobplan server: ``apply``, ``plans`` and ``keys``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
import yaml
from pydantic import ValidationError

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
    when,
)
from jobplan.model import PlanDocument

__all__ = ["apply", "call", "client_of", "keys_app", "plans_app", "resolve_plan_id", "segment"]

plans_app = typer.Typer(help="Plans on the server.", no_args_is_help=True)
keys_app = typer.Typer(help="Your API keys on the server.", no_args_is_help=True)


def client_of(ctx: typer.Context) -> ApiClient:
    client: ApiClient = ctx.obj["client"]()
    return client


def segment(value: str, what: str) -> str:
    """``value`` (an id or version given on the command line) as one URL path segment: a
    ``/`` or ``..`` in it must not reach another route."""
    if value in ("", ".", ".."):
        raise fail(f"{what} must not be empty, '.' or '..'")
    return quote(value, safe="")


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        raise fail(exc.message, 1) from exc


def load_plan_file(path: Path) -> PlanDocument:
    """Read and validate a plan file (YAML or JSON); exit 2 with field messages if invalid."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise fail(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise fail(f"{path}: a plan file must hold a mapping of plan fields")
    try:
        return PlanDocument.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']) or '(plan)'}: {e['msg']}" for e in exc.errors()
        ]
        raise fail(f"{path} is not a valid plan:\n" + "\n".join(lines)) from exc


def resolve_plan_id(client: ApiClient, ref: str) -> str:
    """A plan id from an id or a ``folder/name`` path."""
    if len(ref) == 36 and ref.count("-") == 4:
        return segment(ref, "plan id")
    folder, _, name = ref.strip("/").rpartition("/")
    found = call(client.get, "/api/v1/plans", params={"folder": folder, "name": name})
    if not found:
        raise fail(f"plan '{ref}' not found", 1)
    plan_id: str = found[0]["id"]
    return plan_id


def apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="Plan file (YAML or JSON).")],
    comment: Annotated[str, typer.Option(help="Why this version was made.")] = "",
    output: OutputOption = Format.TABLE,
) -> None:
    """Create the plan in FILE, or store it as a new version if it changed."""
    document = load_plan_file(file)
    client = client_of(ctx)
    result = call(
        client.post,
        "/api/v1/plans/apply",
        json=document.model_dump(mode="json", exclude_none=False),
        params={"comment": comment},
    )
    emit(output, result, _applied_text)


def _applied_text(result: dict[str, Any]) -> None:
    plan = result["plan"]
    if result["created"]:
        out.print(
            line("created plan ", bold(plan["path"]), f" version {plan['version']} ({plan['id']})")
        )
    elif result["changed"]:
        out.print(line("updated plan ", bold(plan["path"]), f" to version {plan['version']}"))
        for change in result["changes"]:
            out.print(f"  {change}", highlight=False)
    else:
        out.print(line("plan ", bold(plan["path"]), f" unchanged (version {plan['version']})"))
    for warning in result.get("warnings", []):
        err.print(f"warning: {warning}", highlight=False)


@plans_app.command("list")
def plans_list(
    ctx: typer.Context,
    folder: Annotated[str | None, typer.Option(help="Only this folder.")] = None,
    recursive: Annotated[bool, typer.Option(help="Include sub-folders.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    output: OutputOption = Format.TABLE,
) -> None:
    """List plans."""
    params: dict[str, Any] = {"limit": limit, "recursive": recursive}
    if folder is not None:
        params["folder"] = folder
    emit(output, call(client_of(ctx).get, "/api/v1/plans", params=params), _plans_table)


def _plans_table(items: list[dict[str, Any]]) -> None:
    grid = table("path", "version", "enabled", "updated", "id")
    for plan in items:
        grid.add_row(
            plan["path"],
            plan["version"],
            "yes" if plan["enabled"] else "no",
            when(plan["updated_at"]),
            plan["id"],
        )
    out.print(grid)


@plans_app.command("show")
def plans_show(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")],
    version: Annotated[str | None, typer.Option(help="A version instead of the current.")] = None,
    output: OutputOption = Format.TABLE,
) -> None:
    """Print a plan's document as YAML.

    With -o json or yaml: the API's plan or version object, the document with its metadata."""
    client = client_of(ctx)
    plan_id = resolve_plan_id(client, plan)
    path = f"/api/v1/plans/{plan_id}" + (
        f"/versions/{segment(version, 'version')}" if version else ""
    )
    emit(output, call(client.get, path), _plan_document)


def _plan_document(body: dict[str, Any]) -> None:
    out.print(yaml.safe_dump(body["document"], sort_keys=False), highlight=False, markup=False)


@plans_app.command("versions")
def plans_versions(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")],
    output: OutputOption = Format.TABLE,
) -> None:
    """List a plan's versions, newest first."""
    client = client_of(ctx)
    items = call(client.get, f"/api/v1/plans/{resolve_plan_id(client, plan)}/versions")
    emit(output, items, _versions_table)


def _versions_table(items: list[dict[str, Any]]) -> None:
    grid = table("version", "created", "by", "comment", "id")
    for item in items:
        grid.add_row(
            item["version"],
            when(item["created_at"]),
            item["created_by"],
            item["comment"],
            item["id"],
        )
    out.print(grid)


@plans_app.command("diff")
def plans_diff(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")],
    from_version: Annotated[
        str | None, typer.Option("--from", help="Old version (default: the current one).")
    ] = None,
    to_version: Annotated[str | None, typer.Option("--to", help="New version.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Compare with a plan file instead.")
    ] = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 1 when there are differences, 0 when there are none (as git diff"
            " --exit-code); errors then exit 2 (bad input) or 3 (refused, unreachable).",
        ),
    ] = False,
) -> None:
    """Show what changed between two versions, or between the server and a plan file."""
    with exit_code_mode(exit_code):
        changed = _plans_diff(ctx, plan, from_version, to_version, file)
    if changed and exit_code:
        raise typer.Exit(1)


def _plans_diff(
    ctx: typer.Context,
    plan: str,
    from_version: str | None,
    to_version: str | None,
    file: Path | None,
) -> bool:
    """Print the differences; whether there are any."""
    client = client_of(ctx)
    plan_id = resolve_plan_id(client, plan)

    def fetch(version: str | None) -> PlanDocument:
        path = f"/api/v1/plans/{plan_id}" + (
            f"/versions/{segment(version, 'version')}" if version else ""
        )
        return PlanDocument.model_validate(call(client.get, path)["document"])

    old = fetch(from_version)
    if file is not None:
        new = load_plan_file(file)
    elif to_version is not None:
        new = fetch(to_version)
    else:
        raise fail("give --to VERSION or --file PLAN.yaml to compare with")
    changes = old.diff(new)
    if not changes:
        out.print("no differences")
        return False
    for change in changes:
        out.print(str(change), highlight=False)
    return True


@plans_app.command("enable")
def plans_enable(
    ctx: typer.Context, plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")]
) -> None:
    """Enable a plan's schedule (it restarts from now)."""
    client = client_of(ctx)
    call(client.post, f"/api/v1/plans/{resolve_plan_id(client, plan)}/enable")
    out.print(f"plan '{plan}' enabled")


@plans_app.command("disable")
def plans_disable(
    ctx: typer.Context, plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")]
) -> None:
    """Disable a plan's schedule (runs already open go on)."""
    client = client_of(ctx)
    call(client.post, f"/api/v1/plans/{resolve_plan_id(client, plan)}/disable")
    out.print(f"plan '{plan}' disabled")


@plans_app.command("delete")
def plans_delete(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="Plan id or folder/name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a plan and all its versions."""
    client = client_of(ctx)
    plan_id = resolve_plan_id(client, plan)
    if not yes and not typer.confirm(f"Delete plan '{plan}' and all its versions?"):
        raise typer.Exit(1)
    call(client.delete, f"/api/v1/plans/{plan_id}")
    out.print(f"deleted plan '{plan}'")


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    scope: Annotated[
        list[str] | None, typer.Option(help="Narrow the key, e.g. --scope plans:read.")
    ] = None,
    expires_at: Annotated[
        datetime | None, typer.Option(help="Expiry (ISO 8601, UTC if no offset).")
    ] = None,
) -> None:
    """Create an API key; the secret is printed once."""
    body: dict[str, Any] = {"name": name}
    if scope:
        body["scopes"] = scope
    if expires_at is not None:
        if expires_at.tzinfo is None:
            from datetime import UTC

            expires_at = expires_at.replace(tzinfo=UTC)
        body["expires_at"] = expires_at.isoformat()
    created = call(client_of(ctx).post, "/api/v1/api-keys", json=body)
    out.print(line("API key ", bold(created["id"]), " created. Its secret (shown only now):"))
    print(created["key"])


@keys_app.command("list")
def keys_list(ctx: typer.Context, output: OutputOption = Format.TABLE) -> None:
    """List your API keys."""
    emit(output, call(client_of(ctx).get, "/api/v1/api-keys"), _keys_table)


def _keys_table(items: list[dict[str, Any]]) -> None:
    grid = table("id", "name", "scopes", "expires", "last used", "revoked")
    for key in items:
        grid.add_row(
            key["id"],
            key["name"],
            ",".join(key["scopes"] or ["(role)"]),
            key["expires_at"] or "-",
            key["last_used_at"] or "-",
            key["revoked_at"] or "-",
        )
    out.print(grid)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an API key."""
    call(client_of(ctx).delete, f"/api/v1/api-keys/{segment(key_id, 'key id')}")
    out.print(f"API key {key_id} revoked")
