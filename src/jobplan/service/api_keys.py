"""API keys: secrets for automation, owned by a user, optionally narrowed by scopes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobplan.errors import InvalidInput, NotFound, PermissionDenied
from jobplan.service import audit
from jobplan.service.audit import audited, field_changes
from jobplan.service.auth import API_KEY_PREFIX
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.service.security import new_secret, sha256_hex
from jobplan.store import Database, credentials
from jobplan.store.records import ApiKeyRecord

__all__ = ["ApiKeyService", "NewApiKey"]

_SCOPE_NAMES = {p.value for p in Permission}
MAX_KEY_LIFETIME = timedelta(days=3653)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A created key; ``key`` is the secret, shown this once and never stored."""

    record: ApiKeyRecord
    key: str


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class ApiKeyService:
    def __init__(self, database: Database) -> None:
        self._db = database

    @audited("key.create", "api_key", "name")
    def create(
        self,
        caller: Caller,
        name: str,
        expires_at: datetime | None = None,
        scopes: list[str] | None = None,
    ) -> NewApiKey:
        """Create a key for the caller. Scopes may only narrow what the caller holds."""
        caller.require(Permission.KEYS_WRITE)
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("must be 1-100 characters", field="name")
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidInput("must include a UTC offset", field="expires_at")
            now = datetime.now(UTC)
            if expires_at <= now:
                raise InvalidInput("must be in the future", field="expires_at")
            if expires_at > now + MAX_KEY_LIFETIME:
                raise InvalidInput("must be at most 10 years from now", field="expires_at")
            expires_at = expires_at.astimezone(UTC)
        if scopes is not None:
            unknown = sorted(set(scopes) - _SCOPE_NAMES)
            if unknown:
                raise InvalidInput(
                    f"unknown scope(s) {unknown}; known: {sorted(_SCOPE_NAMES)}", field="scopes"
                )
            beyond = sorted(set(scopes) - {p.value for p in caller.permissions})
            if beyond:
                raise PermissionDenied(
                    f"scopes {beyond} exceed what your role and credentials allow"
                )
            scopes = sorted(set(scopes))
        elif caller.scopes is not None:
            # a key made with a scoped credential never gets more than that credential
            scopes = sorted(p.value for p in caller.permissions)
        key_id = secrets.token_hex(8)
        secret = new_secret(32)
        with self._db.transaction() as conn:
            record = credentials.insert_api_key(
                conn,
                key_id,
                caller.tenant_id,
                caller.user_id,
                name,
                sha256_hex(secret),
                scopes,
                expires_at,
            )
            # the key's fields, never its secret or the secret's hash
            described = {"name": name, "scopes": scopes, "expires_at": _when(expires_at)}
            audit.record(
                conn,
                target_id=key_id,
                target_path=name,
                changes=field_changes({}, {**described, "owner": caller.username}),
            )
        return NewApiKey(record, f"{API_KEY_PREFIX}{key_id}_{secret}")

    def list(
        self, caller: Caller, limit: int = 50, offset: int = 0, *, all_users: bool = False
    ) -> Page[ApiKeyRecord]:
        """The caller's keys; every key of the tenant with ``all_users`` (needs users:read)."""
        caller.require(Permission.KEYS_READ)
        check_page(limit, offset)
        if all_users:
            caller.require(Permission.USERS_READ)
        with self._db.read() as conn:
            items, total = credentials.list_api_keys(
                conn, caller.tenant_id, None if all_users else caller.user_id, limit, offset
            )
        return Page(items, total, limit, offset)

    def get(self, caller: Caller, key_id: str) -> ApiKeyRecord:
        caller.require(Permission.KEYS_READ)
        with self._db.read() as conn:
            return self._visible(caller, credentials.get_api_key(conn, key_id), key_id)

    @audited("key.revoke", "api_key", "key_id")
    def revoke(self, caller: Caller, key_id: str) -> ApiKeyRecord:
        """Revoke a key: one's own, or anyone's in the tenant with ``users:write``."""
        caller.require(Permission.KEYS_WRITE)
        with self._db.transaction() as conn:
            record = self._visible(caller, credentials.get_api_key(conn, key_id), key_id)
            if record.user_id != caller.user_id:
                caller.require(Permission.USERS_WRITE)
            credentials.revoke_api_key(conn, key_id)
            revoked = credentials.get_api_key(conn, key_id)
            audit.record(
                conn,
                target_id=key_id,
                target_path=record.name,
                changes=field_changes(
                    {"revoked_at": _when(record.revoked_at)},
                    {"revoked_at": _when(revoked.revoked_at if revoked else None)},
                ),
            )
        assert revoked is not None
        return revoked

    @staticmethod
    def _visible(caller: Caller, record: ApiKeyRecord | None, key_id: str) -> ApiKeyRecord:
        if record is None or record.tenant_id != caller.tenant_id:
            raise NotFound("API key", key_id)
        if record.user_id != caller.user_id and not caller.can(Permission.USERS_READ):
            raise NotFound("API key", key_id)
        return record
