"""Which stored plan versions an export's options select (checked when the job is created:
unknown plans, folders or versions are refused then)."""

from __future__ import annotations

import re

from sqlalchemy import Connection

from jobplan.errors import InvalidInput, NotFound
from jobplan.model import latest_matching
from jobplan.service.caller import Caller
from jobplan.service.folders import normalise_folder
from jobplan.service.plans import PlanService
from jobplan.service.transfers.options import ExportOptions
from jobplan.store import plans
from jobplan.store.records import PlanVersionRef

__all__ = ["UUID", "select_versions"]

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PINNED = re.compile(r"^(?P<plan>.+)\[(?P<version>[^\[\]]*)\]$")


def select_versions(
    conn: Connection, plan_service: PlanService, caller: Caller, options: ExportOptions
) -> list[PlanVersionRef]:
    """The versions ``options`` select, by id; :class:`InvalidInput` or :class:`NotFound`
    naming the field at fault. Documents are not read: this runs on the request's thread,
    and the export job reads them (see :func:`jobplan.bundle.paused_gc`)."""
    pinned = bool(options.version_ids) or any(_PINNED.match(p) for p in options.plans)
    if options.version_filter not in ("all", "latest"):
        raise InvalidInput("must be 'all' or 'latest'", field="version_filter")
    if options.file_filter not in ("migrate", "runtime"):
        raise InvalidInput("must be 'migrate' or 'runtime'", field="file_filter")
    if options.context_name not in ("keep", "token", "env_suffix"):
        raise InvalidInput("must be 'keep', 'token' or 'env_suffix'", field="context_name")
    if options.context_name != "keep" and not options.with_tokens:
        raise InvalidInput("needs with_tokens", field="context_name")
    if options.version_filter == "latest" and pinned:
        raise InvalidInput(
            "'latest' cannot be combined with pinned versions (plan[version] or "
            "version ids); use 'all' or drop the pins",
            field="version_filter",
        )
    latest_only = options.version_filter == "latest"
    chosen: dict[str, PlanVersionRef] = {}

    def take_plan(plan_id: str) -> None:
        versions = plans.list_version_refs(conn, caller.tenant_id, plan_id)
        for version in versions[:1] if latest_only else versions:
            chosen[version.id] = version

    for index, folder in enumerate(options.folders):
        where = f"folders[{index}]"
        path = normalise_folder(folder, where)
        if path and plans.get_folder_by_path(conn, caller.tenant_id, path) is None:
            raise NotFound("folder", folder)
        found = _plans_in(conn, caller, path)
        if not found:
            raise InvalidInput(f"folder {folder!r} holds no plans", field=where)
        for plan_id in found:
            take_plan(plan_id)
    for index, ref in enumerate([*options.plans, *options.plan_ids]):
        where = (
            f"plans[{index}]"
            if index < len(options.plans)
            else f"plan_ids[{index - len(options.plans)}]"
        )
        if not isinstance(ref, str) or not ref.strip() or len(ref) > 1024:
            raise InvalidInput("must be a plan path or id", field=where)
        match = _PINNED.match(ref)
        plan = plan_service.resolve(conn, caller, match["plan"] if match else ref)
        if match is None:
            take_plan(plan.id)
            continue
        versions = plans.list_version_refs(conn, caller.tenant_id, plan.id)
        try:
            best = latest_matching([v.version for v in versions], match["version"])
        except ValueError as exc:
            raise InvalidInput(str(exc), field=where) from None
        if best is None:
            raise NotFound("plan version", ref)
        version = next(v for v in versions if v.version == str(best))
        chosen[version.id] = version
    for index, version_id in enumerate(options.version_ids):
        if not isinstance(version_id, str) or not UUID.match(version_id):
            raise InvalidInput("must be a version id", field=f"version_ids[{index}]")
    for version in plans.get_version_refs_by_ids(conn, caller.tenant_id, [*options.version_ids]):
        chosen[version.id] = version
    missing = set(options.version_ids) - set(chosen)
    if missing:
        raise NotFound("plan version", sorted(missing)[0])
    if not chosen:
        raise InvalidInput("select at least one folder, plan or version to export", field="inputs")
    return sorted(chosen.values(), key=lambda v: v.id)


def _plans_in(conn: Connection, caller: Caller, folder: str) -> list[str]:
    found: list[str] = []
    offset = 0
    while True:
        page, total = plans.list_plans(
            conn,
            caller.tenant_id,
            folder=folder,
            recursive=True,
            name_contains=None,
            exact_name=None,
            enabled=None,
            limit=500,
            offset=offset,
        )
        found.extend(plan.id for plan in page)
        offset += len(page)
        if not page or offset >= total:
            return found
