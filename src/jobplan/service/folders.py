"""Folders: the path namespace of a tenant's plans (``finance/eod``)."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from jobplan.errors import Conflict, InvalidInput, NotFound
from jobplan.model import FolderPath
from jobplan.service.audit import audited, record
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.store import Database, plans
from jobplan.store.records import FolderRecord

__all__ = ["FolderService", "normalise_folder"]

_FOLDER = TypeAdapter(FolderPath)


def normalise_folder(path: str, field: str = "path") -> str:
    """Canonical folder path (``a/b``, no empty segments), or :class:`InvalidInput`."""
    try:
        return _FOLDER.validate_python(path)
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"], field=field) from exc


class FolderService:
    def __init__(self, database: Database) -> None:
        self._db = database

    @audited("folder.create", "folder", "path")
    def create(self, caller: Caller, path: str, description: str = "") -> FolderRecord:
        """Create a folder and any missing parents."""
        caller.require(Permission.PLANS_WRITE)
        path = normalise_folder(path)
        if not path:
            raise InvalidInput("must not be empty (the root folder always exists)", field="path")
        with self._db.transaction() as conn:
            plans.ensure_folders(conn, caller.tenant_id, path.rpartition("/")[0])
            folder = plans.insert_folder(conn, caller.tenant_id, path, description)
            record(conn, target_id=folder.id, target_path=folder.path)
            return folder

    def list(self, caller: Caller, limit: int = 50, offset: int = 0) -> Page[FolderRecord]:
        caller.require(Permission.PLANS_READ)
        check_page(limit, offset)
        with self._db.read() as conn:
            items, total = plans.list_folders(conn, caller.tenant_id, limit, offset)
        return Page(items, total, limit, offset)

    def get(self, caller: Caller, folder_id: str) -> FolderRecord:
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            folder = plans.get_folder(conn, caller.tenant_id, folder_id)
        if folder is None:
            raise NotFound("folder", folder_id)
        return folder

    @audited("folder.delete", "folder", "folder_id")
    def delete(self, caller: Caller, folder_id: str) -> None:
        """Delete an empty folder (no plans in it or below it, no sub-folders)."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            folder = plans.get_folder(conn, caller.tenant_id, folder_id)
            if folder is None:
                raise NotFound("folder", folder_id)
            count = plans.count_plans_under(conn, caller.tenant_id, folder.path)
            if count:
                raise Conflict(f"folder '{folder.path}' is not empty: it holds {count} plan(s)")
            if plans.count_folders_below(conn, caller.tenant_id, folder.path):
                raise Conflict(f"folder '{folder.path}' has sub-folders; delete them first")
            plans.delete_folder(conn, caller.tenant_id, folder_id)
            record(conn, target_id=folder.id, target_path=folder.path)
