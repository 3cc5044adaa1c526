"""The per-tenant service registry: service name -> base URL.

HTTP jobs that name a ``service`` (Volt MX jobs) are sent to the service's base URL plus
``/<operation>``, looked up in the run's tenant's registry when the job runs. Reading needs
``plans:read``, changing needs ``plans:write`` (as folders).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from jobplan.errors import InvalidInput, NotFound
from jobplan.model import Name
from jobplan.service import audit
from jobplan.service.audit import audited, field_changes
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.store import Database
from jobplan.store import services as store
from jobplan.store.services import ServiceRecord

__all__ = ["MAX_BASE_URL_CHARS", "ServiceRecord", "ServiceRegistry"]

MAX_BASE_URL_CHARS = 2048
_NAME = TypeAdapter(Name)


def check_service_name(name: str) -> str:
    """A valid service name (as job names: letters, digits, ``_ . -``), or InvalidInput."""
    try:
        return _NAME.validate_python(name)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput(message.replace("name", "service name", 1), field="name") from exc


def check_base_url(url: str) -> str:
    """An absolute http(s) URL without spaces, at most 2048 characters, or InvalidInput."""
    if len(url) > MAX_BASE_URL_CHARS:
        raise InvalidInput(f"must be at most {MAX_BASE_URL_CHARS} characters", field="base_url")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidInput(
            f"{url[:80]!r} is not an absolute http:// or https:// URL", field="base_url"
        )
    return url


def _fields(service: ServiceRecord) -> dict[str, str]:
    return {"base_url": service.base_url, "description": service.description}


class ServiceRegistry:
    """Registry operations, tenant-scoped and role-checked; also the engine's resolver."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @audited("service.register", "service", "name")
    def register(
        self, caller: Caller, name: str, base_url: str, description: str = ""
    ) -> tuple[ServiceRecord, bool]:
        """Register ``name`` or change its URL; returns the entry and whether it is new."""
        caller.require(Permission.PLANS_WRITE)
        name, base_url = check_service_name(name), check_base_url(base_url)
        if len(description) > 2000:
            raise InvalidInput("must be at most 2000 characters", field="description")
        with self._db.transaction() as conn:
            existing = store.get_service(conn, caller.tenant_id, name)
            before = {} if existing is None else _fields(existing)
            if existing is None:
                created = store.insert_service(
                    conn, caller.tenant_id, name, base_url, description, caller.username
                )
                changes = field_changes(before, _fields(created))
                audit.record(conn, target_id=created.id, target_path=name, changes=changes)
                return created, True
            updated = store.update_service(conn, caller.tenant_id, name, base_url, description)
            if updated is not None:
                changes = field_changes(before, _fields(updated))
                audit.record(conn, target_id=updated.id, target_path=name, changes=changes)
        assert updated is not None
        return updated, False

    def get(self, caller: Caller, name: str) -> ServiceRecord:
        caller.require(Permission.PLANS_READ)
        with self._db.read() as conn:
            record = store.get_service(conn, caller.tenant_id, name)
        if record is None:
            raise NotFound("service", name)
        return record

    def list(self, caller: Caller, limit: int = 50, offset: int = 0) -> Page[ServiceRecord]:
        caller.require(Permission.PLANS_READ)
        check_page(limit, offset)
        with self._db.read() as conn:
            items, total = store.list_services(conn, caller.tenant_id, limit, offset)
        return Page(items, total, limit, offset)

    @audited("service.remove", "service", "name")
    def remove(self, caller: Caller, name: str) -> None:
        """Unregister a service. Jobs naming it fail from their next run on."""
        caller.require(Permission.PLANS_WRITE)
        with self._db.transaction() as conn:
            if not store.delete_service(conn, caller.tenant_id, name):
                raise NotFound("service", name)
            audit.record(conn, target_path=name)

    # --- the engine's view (engine.executors.base.ServiceResolver) -------------------------

    async def base_url(self, tenant_id: str, service: str) -> str | None:
        """The registered base URL of ``service`` in ``tenant_id``, looked up off the loop."""
        return await asyncio.to_thread(self._base_url, tenant_id, service)

    def _base_url(self, tenant_id: str, service: str) -> str | None:
        with self._db.read() as conn:
            return store.service_base_url(conn, tenant_id, service)
