"""Secrets: per-tenant values that plans refer to as ``${secret:NAME}``.

A value is set (created or replaced) and deleted, never read back: the list shows names,
when and by whom. Values are sealed with AES-256-GCM before they reach the database
(:mod:`jobplan.store.secret_box`: the key lives outside the database); the engine opens them
when a job starts and masks them in everything the job produces (:mod:`jobplan.engine.masking`).

Permissions: ``secrets:read`` (everyone who reads plans) lists names; ``secrets:write``
(operators and above) sets and deletes. Each set and delete is audited with the name and
never the value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from jobplan.errors import InvalidInput, NotFound
from jobplan.service import audit
from jobplan.service.audit import audited
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.store import Database, accounts
from jobplan.store import secrets as store
from jobplan.store.records import SecretRecord
from jobplan.store.secret_box import (
    KEY_FILE,
    Sealed,
    SecretBox,
    SecretKeyError,
    load_key_ring,
    new_key,
    parse_key,
    write_key_file,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "NAME_PATTERN",
    "SecretInfo",
    "SecretService",
    "check_key_ring",
    "check_secret_name",
    "check_secret_value",
    "new_key",
    "reencrypt",
    "rotate_key_file",
]

#: A secret's name, as ``${secret:NAME}`` refers to it: 1-128 letters, digits, '_', '.', '-'.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
MAX_VALUE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """A secret as anyone may see it: never its value."""

    name: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, record: SecretRecord) -> SecretInfo:
        return cls(
            record.name, record.created_at, record.created_by, record.updated_at, record.updated_by
        )


def check_secret_name(name: str, field: str = "name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            "a secret name is 1-128 letters, digits, '_', '.' and '-', not starting with "
            "'.' or '-'",
            field=field,
        )
    return name


def check_secret_value(value: str, field: str = "value") -> str:
    """A value is non-empty text of at most :data:`MAX_VALUE_BYTES` (UTF-8) without NUL (a
    command receives it in an environment variable). Messages never quote the value."""
    if not value:
        raise InvalidInput("a secret's value must not be empty", field=field)
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise InvalidInput(
            f"a secret's value is at most {MAX_VALUE_BYTES} bytes (got {size})", field=field
        )
    if "\0" in value:
        raise InvalidInput("a secret's value must not contain a NUL character", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a secret's value must be valid Unicode text", field=field) from None
    return value


class SecretService:
    """Set, list and delete a tenant's secrets."""

    def __init__(self, database: Database, box: SecretBox) -> None:
        self._db = database
        self.box = box

    @audited("secret.set", "secret", "name")
    def set(self, caller: Caller, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Create or replace a secret; ``True`` when it was created."""
        caller.require(Permission.SECRETS_WRITE)
        check_secret_name(name)
        check_secret_value(value)
        sealed = self.box.seal(caller.tenant_id, name, value)
        with self._db.transaction() as conn:
            record, created = store.put_secret(
                conn, caller.tenant_id, name, sealed, caller.username, datetime.now(UTC)
            )
            # the name and that the value changed, never the value
            audit.record(
                conn,
                target_id=record.id,
                target_path=name,
                changes=[
                    {
                        "kind": "added" if created else "changed",
                        "path": "value",
                        "before": None,
                        "after": None,
                    }
                ],
            )
        return SecretInfo.of(record), created

    def list(self, caller: Caller, limit: int = 50, offset: int = 0) -> Page[SecretInfo]:
        """The tenant's secrets by name, without values."""
        caller.require(Permission.SECRETS_READ)
        check_page(limit, offset)
        with self._db.read() as conn:
            items, total = store.list_secrets(conn, caller.tenant_id, limit, offset)
        return Page([SecretInfo.of(r) for r in items], total, limit, offset)

    def get(self, caller: Caller, name: str) -> SecretInfo:
        """One secret's name, when and by whom (never its value)."""
        caller.require(Permission.SECRETS_READ)
        with self._db.read() as conn:
            record = store.get_secret(conn, caller.tenant_id, name)
        if record is None:
            raise NotFound("secret", name)
        return SecretInfo.of(record)

    @audited("secret.delete", "secret", "name")
    def delete(self, caller: Caller, name: str) -> None:
        """Delete a secret: runs that start from now on and refer to it fail."""
        caller.require(Permission.SECRETS_WRITE)
        with self._db.transaction() as conn:
            record = store.get_secret(conn, caller.tenant_id, name)
            if record is None:
                raise NotFound("secret", name)
            store.delete_secret(conn, record.id)
            audit.record(
                conn,
                target_id=record.id,
                target_path=name,
                changes=[{"kind": "removed", "path": "value", "before": None, "after": None}],
            )


def reencrypt(database: Database, box: SecretBox, *, audit_always: bool = True) -> tuple[int, int]:
    """Seal every secret anew under ``box``'s current key (in one transaction), opening each
    with whichever key of the ring sealed it. Returns (re-encrypted, already current).
    Raises :class:`~jobplan.store.secret_box.SecretKeyError` when a value cannot be opened:
    then nothing changed. Audited as ``secrets.rotate_key`` (in the same transaction: one
    record for the key, shown to system administrators, and one per tenant whose secrets
    were sealed anew), unless nothing changed and not ``audit_always``; key ids only,
    never a key or a value."""
    changed = kept = 0
    resealed: Counter[tuple[str, str]] = Counter()  # (tenant, old key id) -> secrets
    with database.transaction() as conn:
        for record in store.all_secrets(conn):
            if record.key_id == box.current_key_id:
                kept += 1
                continue
            value = box.open(record.tenant_id, record.name, Sealed(record.key_id, record.sealed))
            store.reseal(conn, record.id, box.seal(record.tenant_id, record.name, value))
            resealed[record.tenant_id, record.key_id] += 1
            changed += 1
        if changed or audit_always:
            _audit_rotation(conn, box, resealed, kept)
    return changed, kept


def _audit_rotation(
    conn: Connection, box: SecretBox, resealed: Counter[tuple[str, str]], kept: int
) -> None:
    def changes(before: Iterable[str], count: int) -> list[dict[str, Any]]:
        return [
            {
                "kind": "changed",
                "path": "key_id",
                "before": ", ".join(sorted(set(before))) or None,
                "after": box.current_key_id,
            },
            {"kind": "added", "path": "sealed_anew", "before": None, "after": count},
        ]

    audit.record_local(
        conn,
        action="secrets.rotate_key",
        tenant=None,
        target_type="secrets_key",
        target_id=box.current_key_id,
        target_path=None,
        changes=[
            *changes((key_id for _, key_id in resealed), sum(resealed.values())),
            {"kind": "added", "path": "already_current", "before": None, "after": kept},
        ],
    )
    for tenant_id in sorted({tenant_id for tenant_id, _ in resealed}):
        tenant = accounts.get_tenant(conn, tenant_id)
        mine = {key_id: n for (owner, key_id), n in resealed.items() if owner == tenant_id}
        audit.record_local(
            conn,
            action="secrets.rotate_key",
            tenant=(tenant_id, tenant.name if tenant else tenant_id),
            target_type="secrets_key",
            target_id=box.current_key_id,
            target_path=None,
            changes=changes(mine, sum(mine.values())),
        )


def check_key_ring(database: Database, box: SecretBox) -> None:
    """Refuse (:class:`~jobplan.store.secret_box.SecretKeyError`) a ring that lacks a key
    some stored secret is sealed with: a node started with another key (or none, so it made
    a key file of its own) would fail every job using such a secret. Made at start, before
    the node serves; the key ids it compares name keys without revealing them."""
    with database.read() as conn:
        in_use = store.key_ids_in_use(conn)
    missing = {key_id: n for key_id, n in in_use.items() if key_id not in box.key_ids}
    if not missing:
        return
    count = sum(missing.values())
    raise SecretKeyError(
        f"{count} secret(s) in the database are sealed with key "
        + ", ".join(sorted(missing))
        + f", which this node does not have ({box.source} holds "
        + ", ".join(box.key_ids)
        + "): every node sharing the database needs the same secrets key. Set "
        "JOBPLAN_SECRETS_KEY (or copy secrets.key into the data folder) from a node that has "
        "it; see docs/secrets.md"
    )


def rotate_key_file(database: Database, home: Path) -> tuple[str, int]:
    """Rotate the key file ``<home>/secrets.key``: a new key first, the old ones after it
    (written before any row changes, so a crash leaves every row readable), every secret
    sealed anew under the new key, then the file keeps the new key alone. Returns the new
    key's id and how many secrets were sealed anew."""
    load_key_ring(home, None)  # the file exists and every key in it is valid
    lines = [line.strip() for line in (home / KEY_FILE).read_text().splitlines() if line.strip()]
    fresh = new_key()
    write_key_file(home, [fresh, *lines])
    ring = SecretBox([parse_key(fresh, KEY_FILE), *(parse_key(k, KEY_FILE) for k in lines)])
    changed, _ = reencrypt(database, ring)
    # a server that sealed a value under the old key while this ran: seal it anew too,
    # before the old key leaves the file
    again, _ = reencrypt(database, ring, audit_always=False)
    write_key_file(home, [fresh])
    return ring.current_key_id, changed + again
