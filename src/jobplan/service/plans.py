"""Plans and their immutable versions: every change stores a new version."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from jobplan.engine.documents import PLAN_FORMAT_VERSION, DocumentCache, load_document
from jobplan.engine.scheduler import next_window_fire
from jobplan.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from jobplan.model import CalendarDocument, PlanDocument, SemVer, plan_path
from jobplan.service.audit import audited, plan_changes, record, record_change
from jobplan.service.caller import Caller, Permission
from jobplan.service.folders import normalise_folder
from jobplan.service.oplog import operator_action
from jobplan.service.pagination import Page, check_page
from jobplan.store import Database, plans, runs
from jobplan.store import calendars as calendar_store
from jobplan.store.records import PlanRecord, PlanVersionRecord

__all__ = [
    "PLAN_FORMAT_VERSION",
    "ApplyResult",
    "ImportedPlan",
    "OnConflict",
    "PlanService",
    "PlanView",
    "load_document",
]

FIRST_VERSION = SemVer(1, 0, 0)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class PlanView:
    """A plan with one of its versions (the current one unless asked otherwise)."""

    plan: PlanRecord
    version: PlanVersionRecord
    document: PlanDocument


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What ``apply`` did: created the plan, stored a new version, or found nothing changed."""

    view: PlanView
    created: bool
    changed: bool
    changes: list[str]


class OnConflict(StrEnum):
    """What an import does with a plan that exists and differs from the bundle's."""

    ABORT = "abort"
    """Refuse the whole import (the default)."""
    REPLACE = "replace"
    """Store the bundle's newest version as the plan's new current version."""
    ADD_VERSION = "add_version"
    """Store each of the bundle's versions newer than the plan's latest, keeping history."""


@dataclass(frozen=True, slots=True)
class ImportedPlan:
    """What an import did (or, in a dry run, would do) to one plan."""

    plan: str
    action: str
    """``added``, ``changed``, ``unchanged`` or, refused by ``abort``, ``conflict``."""
    versions: list[str] = field(default_factory=list)
    """Versions stored (or that would be)."""
    previous_version: str | None = None
    changes: list[str] = field(default_factory=list)


def _document_path(arguments: Any) -> str | None:
    document = arguments.get("document")
    return plan_path(document.folder, document.name) if document is not None else None


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "version"}


def _enabled_change(before: bool, after: bool) -> dict[str, Any]:
    return {"kind": "changed", "path": "enabled", "before": before, "after": after}


class PlanService:
    def __init__(self, database: Database, notify: Callable[[], None] | None = None) -> None:
        self._db = database
        #: validated documents of the versions reads return (versions never change)
        self._documents = DocumentCache()
        #: called after a change that may move a schedule (the engine wakes its scheduler)
        self.notify: Callable[[], None] = notify or (lambda: None)

    # --- writes ---------------------------------------------------------------------------

    @audited("plan.create", "plan", _document_path)
    def create(
        self,
        caller: Caller,
        document: PlanDocument,
        comment: str = "",
        *,
        then: Callable[[Connection, PlanView], None] | None = None,
    ) -> PlanView:
        """Create a plan with its first version (``1.0.0`` unless the document names one).
        ``then`` runs in the same transaction, for records that belong with the plan."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            view = self._create(conn, caller, document, comment)
            if then is not None:
                then(conn, view)
        self.notify()
        return view

    @audited("plan.update", "plan", "plan_ref")
    def update(
        self, caller: Caller, plan_ref: str, document: PlanDocument, comment: str = ""
    ) -> ApplyResult:
        """Store ``document`` as the plan's new version (nothing is stored if it is unchanged)."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            plan = self.resolve(conn, caller, plan_ref, for_update=True)
            if (document.folder, document.name) != (plan.folder, plan.name):
                field = "name" if document.name != plan.name else "folder"
                raise InvalidInput(
                    f"does not match the plan being updated ('{plan.path}'); "
                    "plans cannot be renamed or moved by an update",
                    field=field,
                )
            result = self._new_version(conn, caller, plan, document, comment)
        self.notify()
        return result

    @audited("plan.apply", "plan", _document_path)
    def apply(self, caller: Caller, document: PlanDocument, comment: str = "") -> ApplyResult:
        """Create the plan named by ``document`` or store a new version of it (plans as code)."""
        caller.require(Permission.PLANS_WRITE)
        try:
            result = self._apply(caller, document, comment)
        except AlreadyExists as exc:
            if exc.kind != "plan":
                raise
            # another apply created the plan between our look and our insert (PostgreSQL
            # does not lock a row that does not exist yet): it exists now, so version it
            result = self._apply(caller, document, comment)
        self.notify()
        return result

    def _apply(self, caller: Caller, document: PlanDocument, comment: str) -> ApplyResult:
        with self._db.transaction() as conn:
            plan = plans.get_plan_by_name(
                conn, caller.tenant_id, document.folder, document.name, lock=True
            )
            if plan is None:
                view = self._create(conn, caller, document, comment)
                return ApplyResult(view, created=True, changed=True, changes=["plan created"])
            return self._new_version(conn, caller, plan, document, comment)

    @audited(lambda a: "plan.enable" if a.get("enabled") else "plan.disable", "plan", "plan_ref")
    def set_enabled(self, caller: Caller, plan_ref: str, enabled: bool) -> PlanRecord:
        """Enable or disable a plan's schedule (no new version: this is operational state).
        Fires missed while disabled are not caught up: the schedule restarts from now."""
        caller.require(Permission.RUNS_WRITE)
        with self._db.transaction() as conn:
            plan = self.resolve(conn, caller, plan_ref)
            plans.set_plan_enabled(conn, plan.id, enabled)
            view = self._current(conn, caller, plan)
            self._reschedule(conn, caller.tenant_id, plan.id, view.document if enabled else None)
            updated = plans.get_plan(conn, caller.tenant_id, plan.id)
            changed = [] if plan.enabled == enabled else [_enabled_change(plan.enabled, enabled)]
            record(conn, target_id=plan.id, target_path=plan.path, changes=changed)
        self.notify()
        operator_action(caller, "plan.enable" if enabled else "plan.disable", plan=plan.path)
        assert updated is not None
        return updated

    @audited("plan.delete", "plan", "plan_ref")
    def delete(self, caller: Caller, plan_ref: str) -> None:
        """Delete a plan and all its versions."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            plan = self.resolve(conn, caller, plan_ref)
            plans.delete_plan(conn, plan.id)
            record(conn, target_id=plan.id, target_path=plan.path)

    def import_documents(
        self,
        caller: Caller,
        documents: Sequence[tuple[PlanDocument, str | None]],
        on_conflict: OnConflict,
        *,
        dry_run: bool = False,
        comment: str = "imported",
        check: Callable[[], None] | None = None,
        before_commit: Callable[[Connection, builtins.list[ImportedPlan]], None] | None = None,
        calendars: Sequence[CalendarDocument] = (),
    ) -> builtins.list[ImportedPlan]:
        """Create or version every plan of a bundle in one transaction: all or nothing.

        ``documents`` are (document, version) pairs; several versions of one plan are stored
        in semantic-version order. ``check()`` is called between plans (it may raise to abort
        everything); ``before_commit(conn, outcome)`` runs last inside the transaction. A dry run
        writes nothing and reports conflicts instead of raising.

        ``calendars`` (the bundle's) are written first, in the same transaction: created, or
        replaced when they differ (refused, as a conflict, with ``on_conflict`` ``abort``).
        A plan naming a calendar neither the tenant nor the bundle has fails the import.
        """
        caller.require(Permission.PLANS_WRITE)
        groups: dict[tuple[str, str], builtins.list[tuple[SemVer | None, PlanDocument]]] = {}
        for document, version in documents:
            number = SemVer.parse(version) if version else None
            groups.setdefault((document.folder, document.name), []).append((number, document))
        for versions in groups.values():
            versions.sort(key=lambda item: item[0] or FIRST_VERSION)
        session = self._db.read() if dry_run else self._db.transaction()
        with session as conn:
            if not dry_run:
                self._import_calendars(conn, caller, calendars, on_conflict)
            outcome = [
                self._import_plan(conn, caller, versions, on_conflict, dry_run, comment, check)
                for versions in groups.values()
            ]
            refused = [item.plan for item in outcome if item.action == "conflict"]
            if refused and not dry_run:
                raise Conflict(
                    f"{len(refused)} plan(s) exist and differ from the bundle: "
                    f"{', '.join(refused)}; import with on_conflict 'replace' or 'add_version' "
                    "to store the bundle's versions"
                )
            if before_commit is not None and not dry_run:
                before_commit(conn, outcome)
        if not dry_run:
            self.notify()
        return outcome

    @staticmethod
    def _import_calendars(
        conn: Connection,
        caller: Caller,
        calendars: Sequence[CalendarDocument],
        on_conflict: OnConflict,
    ) -> None:
        for calendar in calendars:
            existing = calendar_store.get_calendar(conn, caller.tenant_id, calendar.name)
            if existing is not None and (existing.days, existing.description) == (
                calendar.days,
                calendar.description,
            ):
                continue
            if existing is not None and on_conflict is OnConflict.ABORT:
                raise Conflict(
                    f"calendar '{calendar.name}' exists and differs from the bundle's; import "
                    "with on_conflict 'replace' or 'add_version' to replace its days"
                )
            saved, _ = calendar_store.put_calendar(
                conn, caller.tenant_id, calendar.name, calendar.description, calendar.days
            )
            record_change(
                conn,
                caller,
                action="calendar.import",
                target_type="calendar",
                target_id=saved.id,
                target_path=saved.name,
                changes=[],
            )
            reschedule_calendar_users(conn, caller.tenant_id, calendar.name)

    def _import_plan(
        self,
        conn: Connection,
        caller: Caller,
        versions: builtins.list[tuple[SemVer | None, PlanDocument]],
        on_conflict: OnConflict,
        dry_run: bool,
        comment: str,
        check: Callable[[], None] | None,
    ) -> ImportedPlan:
        if check is not None:
            check()
        newest = versions[-1][1]
        path = plan_path(newest.folder, newest.name)
        plan = plans.get_plan_by_name(
            conn, caller.tenant_id, newest.folder, newest.name, lock=not dry_run
        )
        if plan is None:
            numbers = [number or FIRST_VERSION for number, _ in versions]
            if not dry_run:
                for number, (_, document) in zip(numbers, versions, strict=True):
                    if plan is None:
                        plan = self._create(
                            conn,
                            caller,
                            document.model_copy(update={"version": str(number)}),
                            comment,
                        ).plan
                    else:
                        self._store(conn, caller, plan, document, number, comment)
                assert plan is not None
                created = plan_changes(None, newest, None, str(numbers[-1]))
                record_change(
                    conn,
                    caller,
                    action="plan.import",
                    target_type="plan",
                    target_id=plan.id,
                    target_path=path,
                    changes=created,
                )
            return ImportedPlan(path, "added", [str(n) for n in numbers], None, ["plan created"])
        current = self._current(conn, caller, plan)
        if _comparable(newest.model_dump(mode="json")) == _comparable(current.version.document):
            return ImportedPlan(path, "unchanged", [], current.version.version)
        diff = current.document.diff(newest)
        changes = [str(change) for change in diff]
        if on_conflict is OnConflict.ABORT:
            return ImportedPlan(path, "conflict", [], current.version.version, changes)
        latest = SemVer.parse(plans.latest_version(conn, caller.tenant_id, plan.id))
        # replace stores only the newest version; add_version keeps the bundle's history
        candidates = versions if on_conflict is OnConflict.ADD_VERSION else versions[-1:]
        chosen = [(n, d) for n, d in candidates if n is not None and n > latest]
        stored = chosen or [(latest.bump_patch(), newest)]
        if not dry_run:
            if newest.enabled != current.document.enabled:
                plans.set_plan_enabled(conn, plan.id, newest.enabled)
            for number, document in stored:
                self._store(conn, caller, plan, document, number, comment)
            versioned = plan_changes(
                current.document, newest, current.version.version, str(stored[-1][0]), diff
            )
            record_change(
                conn,
                caller,
                action="plan.import",
                target_type="plan",
                target_id=plan.id,
                target_path=path,
                changes=versioned,
            )
        return ImportedPlan(
            path, "changed", [str(n) for n, _ in stored], current.version.version, changes
        )

    # --- reads ----------------------------------------------------------------------------

    def get(self, caller: Caller, plan_ref: str, version: str | None = None) -> PlanView:
        """A plan by id or ``folder/name`` path, with its current (or the given) version."""
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            plan = self.resolve(conn, caller, plan_ref)
            wanted = version or plan.current_version_id
            record = plans.get_version(conn, caller.tenant_id, plan.id, wanted or "")
        if record is None:
            raise NotFound("plan version", version or plan_ref)
        return PlanView(plan, record, self._documents.document(record))

    def list(
        self,
        caller: Caller,
        *,
        folder: str | None = None,
        recursive: bool = False,
        name: str | None = None,
        name_contains: str | None = None,
        enabled: bool | None = None,
        limit: int = 50,
        offset: int = 0,
        order: str = "path",
    ) -> Page[PlanRecord]:
        """A page of the caller's plans, ordered by ``path`` or ``next_fire``."""
        caller.require(Permission.PLANS_READ)
        check_page(limit, offset)
        if order not in ("path", "next_fire"):
            raise InvalidInput("must be path or next_fire", field="order")
        if folder is not None:
            folder = normalise_folder(folder, "folder")
        with self._db.read() as conn:
            items, total = plans.list_plans(
                conn,
                caller.tenant_id,
                folder=folder,
                recursive=recursive,
                name_contains=name_contains,
                exact_name=name,
                enabled=enabled,
                limit=limit,
                offset=offset,
                order=order,
            )
        return Page(items, total, limit, offset)

    def versions(self, caller: Caller, plan_ref: str) -> builtins.list[PlanVersionRecord]:
        """Every version of a plan, highest first."""
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            plan = self.resolve(conn, caller, plan_ref)
            return plans.list_versions(conn, caller.tenant_id, plan.id)

    # --- internals ------------------------------------------------------------------------

    def resolve(
        self, conn: Connection, caller: Caller, plan_ref: str, *, for_update: bool = False
    ) -> PlanRecord:
        """The caller's plan by id or ``folder/name`` path, or :class:`NotFound`. With
        ``for_update`` the row is locked (PostgreSQL) so concurrent writers queue."""
        if _UUID.match(plan_ref):
            plan = plans.get_plan(conn, caller.tenant_id, plan_ref, lock=for_update)
        else:
            folder, _, name = plan_ref.strip("/").rpartition("/")
            plan = plans.get_plan_by_name(conn, caller.tenant_id, folder, name, lock=for_update)
        if plan is None and "/" not in plan_ref.strip("/"):
            # a bare name: the plan of that name in whichever folder, if only one has it
            found, _ = plans.list_plans(conn, caller.tenant_id, limit=2, exact_name=plan_ref)
            plan = found[0] if len(found) == 1 else None
            if plan is not None and for_update:
                plan = plans.get_plan(conn, caller.tenant_id, plan.id, lock=True)
        if plan is None:
            raise NotFound("plan", plan_ref)
        return plan

    def _create(
        self, conn: Connection, caller: Caller, document: PlanDocument, comment: str
    ) -> PlanView:
        plans.ensure_folders(conn, caller.tenant_id, document.folder)
        plan = plans.insert_plan(
            conn, caller.tenant_id, document.folder, document.name, document.enabled
        )
        version = SemVer.parse(document.version) if document.version else FIRST_VERSION
        view = self._store(conn, caller, plan, document, version, comment)
        changes = plan_changes(None, document, None, str(version))
        record(conn, target_id=plan.id, target_path=plan.path, changes=changes)
        return view

    def _new_version(
        self,
        conn: Connection,
        caller: Caller,
        plan: PlanRecord,
        document: PlanDocument,
        comment: str,
    ) -> ApplyResult:
        current = plans.get_version(conn, caller.tenant_id, plan.id, plan.current_version_id or "")
        assert current is not None, "a plan always has a current version"
        previous = load_document(current)
        new = document.model_dump(mode="json")
        if _comparable(new) == _comparable(current.document) and (
            document.version in (None, current.version)
        ):
            record(conn, target_id=plan.id, target_path=plan.path, changes=[])
            return ApplyResult(PlanView(plan, current, previous), False, False, [])
        latest = SemVer.parse(plans.latest_version(conn, caller.tenant_id, plan.id))
        if document.version is None or document.version == current.version:
            # no version, or the current one left unchanged in an edited file: bump it
            version = latest.bump_patch()
            if not SemVer.is_valid(str(version)):
                raise Conflict(
                    f"cannot bump version {latest} automatically; give an explicit version"
                )
        else:
            version = SemVer.parse(document.version)
            if version <= latest:
                raise Conflict(
                    f"version {version} is not greater than the plan's latest version {latest}"
                )
        if document.enabled != previous.enabled:
            plans.set_plan_enabled(conn, plan.id, document.enabled)
        view = self._store(conn, caller, plan, document, version, comment)
        diff = previous.diff(document)
        record(
            conn,
            target_id=plan.id,
            target_path=plan.path,
            changes=plan_changes(previous, document, current.version, str(version), diff),
        )
        changes = [str(change) for change in diff]
        return ApplyResult(view, created=False, changed=True, changes=changes)

    def _current(self, conn: Connection, caller: Caller, plan: PlanRecord) -> PlanView:
        record = plans.get_version(conn, caller.tenant_id, plan.id, plan.current_version_id or "")
        assert record is not None, "a plan always has a current version"
        return PlanView(plan, record, load_document(record))

    @staticmethod
    def _reschedule(
        conn: Connection, tenant_id: str, plan_id: str, document: PlanDocument | None
    ) -> None:
        """Point the plan's next fire at its window's first fire from now, its calendars
        applied (none if disabled or windowless)."""
        following: datetime | None = None
        if document is not None and document.window is not None:
            names = document.window.calendars
            days = calendar_store.days_by_name(conn, tenant_id, names) if names else {}
            following = next_window_fire(document, datetime.now(UTC), days)
        runs.set_next_fire(conn, plan_id, following, None)

    @staticmethod
    def _check_calendars(conn: Connection, tenant_id: str, document: PlanDocument) -> None:
        """A window may only name calendars its tenant has (a 422 naming the missing one)."""
        if document.window is None or not document.window.calendars:
            return
        names = document.window.calendars
        known = calendar_store.days_by_name(conn, tenant_id, names)
        missing = [name for name in names if name not in known]
        if missing:
            path = plan_path(document.folder, document.name)
            raise InvalidInput(
                f"unknown calendar '{missing[0]}' in plan '{path}'"
                " (create it first: POST /api/v1/calendars or 'jobplan calendars create')",
                field="window.calendar",
            )

    def _store(
        self,
        conn: Connection,
        caller: Caller,
        plan: PlanRecord,
        document: PlanDocument,
        version: SemVer,
        comment: str,
    ) -> PlanView:
        self._check_calendars(conn, caller.tenant_id, document)
        stored = document.model_copy(update={"version": str(version)})
        record = plans.insert_version(
            conn,
            plan,
            str(version),
            (version.major, version.minor, version.patch),
            PLAN_FORMAT_VERSION,
            stored.model_dump(mode="json"),
            comment,
            caller.username,
        )
        enabled = plans.get_plan(conn, caller.tenant_id, plan.id)
        assert enabled is not None
        self._reschedule(conn, caller.tenant_id, plan.id, stored if enabled.enabled else None)
        refreshed = plans.get_plan(conn, caller.tenant_id, plan.id)
        assert refreshed is not None
        return PlanView(refreshed, record, stored)


def reschedule_calendar_users(conn: Connection, tenant_id: str, name: str) -> list[str]:
    """Re-compute, from now, the next fire time of the tenant's enabled plans whose window
    names calendar ``name`` (its days changed); the paths of all plans naming it."""
    now = datetime.now(UTC)
    using = calendar_store.plans_naming(conn, tenant_id, name)
    for plan_id, _, enabled in using:
        plan = plans.get_plan(conn, tenant_id, plan_id)
        if not enabled or plan is None or plan.current_version_id is None:
            continue
        version = plans.get_version(conn, tenant_id, plan_id, plan.current_version_id)
        if version is None:
            continue
        document = load_document(version)
        names = document.window.calendars if document.window else ()
        days = calendar_store.days_by_name(conn, tenant_id, names)
        runs.set_next_fire(conn, plan_id, next_window_fire(document, now, days), None)
    return [path for _, path, _ in using]
