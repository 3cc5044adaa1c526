"""Tenants: the isolation unit. Managed by system administrators only."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobplan.errors import Conflict, InvalidInput, NotFound
from jobplan.model import Role
from jobplan.service import audit
from jobplan.service.audit import audited, field_changes
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.service.security import PasswordHasher
from jobplan.service.validation import check_password, check_slug, check_username
from jobplan.store import Database, accounts
from jobplan.store.records import TenantRecord

__all__ = ["TenantService"]


@dataclass(frozen=True, slots=True)
class NewTenantAdmin:
    username: str
    password: str


MAX_SETTINGS_BYTES = 16 * 1024
MAX_SETTINGS_DEPTH = 8
#: Tenant settings that override the server's export/import limits (positive integers).
TRANSFER_LIMIT_SETTINGS = (
    "export_job_limit",
    "import_job_limit",
    "max_package_bytes",
    "transfer_timeout_seconds",
)


def check_settings(settings: dict[str, Any]) -> None:
    """Tenant settings are a small JSON object: bounded size and nesting, and JSON numbers
    only (NaN and Infinity are refused, not stored as null)."""

    def depth(value: Any, level: int = 1) -> int:
        if level > MAX_SETTINGS_DEPTH:
            return level
        if isinstance(value, dict):
            return max((depth(v, level + 1) for v in value.values()), default=level)
        if isinstance(value, list):
            return max((depth(v, level + 1) for v in value), default=level)
        return level

    if depth(settings) > MAX_SETTINGS_DEPTH:
        raise InvalidInput(f"must not nest deeper than {MAX_SETTINGS_DEPTH}", field="settings")
    try:
        text = json.dumps(settings, allow_nan=False)
    except ValueError:
        raise InvalidInput(
            "must not hold NaN or Infinity: they are not JSON numbers", field="settings"
        ) from None
    if len(text) > MAX_SETTINGS_BYTES:
        raise InvalidInput(f"must be at most {MAX_SETTINGS_BYTES} bytes of JSON", field="settings")
    for key in TRANSFER_LIMIT_SETTINGS:
        value = settings.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidInput("must be a positive integer", field=f"settings.{key}")


class TenantService:
    def __init__(self, database: Database, passwords: PasswordHasher) -> None:
        self._db = database
        self._passwords = passwords
        #: called with a deleted tenant's id once the deletion has committed, for what
        #: lives outside the database (export and import files)
        self.on_deleted: list[Callable[[str], None]] = []

    @audited("tenant.create", "tenant", "name")
    def create(
        self,
        caller: Caller,
        name: str,
        display_name: str | None = None,
        settings: dict[str, Any] | None = None,
        admin: NewTenantAdmin | None = None,
    ) -> TenantRecord:
        """Create a tenant, optionally with its first admin user."""
        caller.require(Permission.TENANTS_ADMIN)
        check_slug(name, "name")
        check_settings(settings or {})
        if admin is not None:
            check_username(admin.username, "admin.username")
            check_password(admin.password, "admin.password")
        with self._db.transaction() as conn:
            tenant = accounts.insert_tenant(conn, name, display_name or name, settings or {})
            if admin is not None:  # the new tenant's own account: no other tenant's name clashes
                user = accounts.insert_user(
                    conn, admin.username, self._passwords.hash(admin.password), admin.username
                )
                accounts.add_membership(conn, user, tenant.id, Role.ADMIN)
            described: dict[str, Any] = {"display_name": tenant.display_name}
            if admin is not None:
                described["admin"] = admin.username
            changes = field_changes({}, described) + field_changes(
                {}, tenant.settings, prefix="settings."
            )
            audit.record(conn, target_id=tenant.id, target_path=tenant.name, changes=changes)
            return tenant

    def list(self, caller: Caller, limit: int = 50, offset: int = 0) -> Page[TenantRecord]:
        caller.require(Permission.TENANTS_ADMIN)
        check_page(limit, offset)
        with self._db.read() as conn:
            items, total = accounts.list_tenants(conn, limit, offset)
        return Page(items, total, limit, offset)

    def get(self, caller: Caller, tenant_id: str) -> TenantRecord:
        caller.require(Permission.TENANTS_ADMIN)
        with self._db.read() as conn:
            tenant = accounts.get_tenant(conn, tenant_id) or accounts.get_tenant_by_name(
                conn, tenant_id
            )
        if tenant is None:
            raise NotFound("tenant", tenant_id)
        return tenant

    def current(self, caller: Caller) -> TenantRecord:
        """The caller's own tenant (its settings are readable by supervisors and admins)."""
        caller.require(Permission.USERS_READ)
        with self._db.read() as conn:
            tenant = accounts.get_tenant(conn, caller.tenant_id)
        if tenant is None:
            raise NotFound("tenant", caller.tenant_name)
        return tenant

    @audited("settings.update", "tenant", "tenant_id")
    def update_settings(
        self, caller: Caller, tenant_id: str, settings: dict[str, Any]
    ) -> TenantRecord:
        """Replace a tenant's settings (its export and import limits): system administrators
        only, as the limits protect the whole server."""
        tenant = self.get(caller, tenant_id)
        check_settings(settings)
        with self._db.transaction() as conn:
            accounts.update_tenant_settings(conn, tenant.id, settings)
            updated = accounts.get_tenant(conn, tenant.id)
            changes = field_changes(
                tenant.settings, updated.settings if updated else {}, prefix="settings."
            )
            audit.record(conn, target_id=tenant.id, target_path=tenant.name, changes=changes)
        assert updated is not None
        return updated

    @audited("tenant.delete", "tenant", "tenant_id")
    def delete(self, caller: Caller, tenant_id: str) -> None:
        """Delete a tenant and everything in it. The caller's own tenant cannot be deleted."""
        tenant = self.get(caller, tenant_id)
        if tenant.id == caller.tenant_id:
            raise Conflict("cannot delete the tenant you are signed in to")
        with self._db.transaction() as conn:
            accounts.delete_tenant(conn, tenant.id)
            audit.record(conn, target_id=tenant.id, target_path=tenant.name)
        for hook in self.on_deleted:
            hook(tenant.id)
