"""A node whose secrets key is not the one the stored secrets are sealed with does not start
(service/container.py, service/secrets.py): before, it started and failed each job using a
secret when it ran. Rotating the key with ``reencrypt`` is audited (key ids, never a key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobplan.model import Role
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.secrets import reencrypt
from jobplan.settings import Settings
from jobplan.store import Database, accounts, new_id
from jobplan.store import audit as audit_store
from jobplan.store.secret_box import SecretKeyError, key_id_of, load_key_ring, new_key, parse_key

OLD, NEW = new_key(), new_key()


def node(tmp_path: Path, url: str, name: str, key: str | None = None) -> Services:
    settings = Settings(
        home=tmp_path / name,
        database_url=url,
        secrets_key=key,
        secret_key="signing-key-shared-by-every-node-of-the-test",
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )
    return Services.open(settings, migrate=False)


def test_a_node_with_another_secrets_key_is_refused_at_start(
    database_url: str, tmp_path: Path
) -> None:
    first = node(tmp_path, database_url, "a", OLD)
    try:
        with first.database.transaction() as conn:
            tenant = accounts.insert_tenant(conn, "acme", "acme", {})
        caller = Caller(new_id(), "ops", tenant.id, "acme", Role.ADMIN)
        first.secrets.set(caller, "DB_PASSWORD", "s3cret-value")
    finally:
        first.close()

    # no key configured: the node makes a key file of its own, which seals nothing stored
    with pytest.raises(SecretKeyError) as refused:
        node(tmp_path, database_url, "b")
    old_id = key_id_of(parse_key(OLD, "test"))
    fresh_id = load_key_ring(tmp_path / "b", None).current_key_id
    message = refused.value.message
    assert f"1 secret(s) in the database are sealed with key {old_id}" in message
    assert f"holds {fresh_id}" in message and "every node sharing the database" in message
    assert OLD not in message
    # another configured key: refused too
    with pytest.raises(SecretKeyError):
        node(tmp_path, database_url, "c", NEW)
    # the same key, or a ring holding it (while rotating): the node starts
    for key in (OLD, f"{NEW},{OLD}"):
        node(tmp_path, database_url, "d", key).close()

    # rotation seals it anew under the new key and is audited; then only the new key starts
    database = Database(database_url)
    try:
        ring = load_key_ring(tmp_path, f"{NEW},{OLD}")
        assert reencrypt(database, ring) == (1, 0)
        with database.read() as conn:
            records, _ = audit_store.list_records(
                conn, audit_store.AuditFilter(tenant.id, include_tenantless=True), 10, 0
            )
    finally:
        database.dispose()
    new_id_ = ring.current_key_id
    rotated = [r for r in records if r.action == "secrets.rotate_key"]
    assert sorted((r.tenant_name or "", r.target_id) for r in rotated) == [
        ("", new_id_),
        ("acme", new_id_),
    ]
    for record in rotated:
        assert record.actor_name and record.auth_method == "local"
        assert {"kind": "changed", "path": "key_id", "before": old_id, "after": new_id_} in (
            record.changes or []
        )
        assert OLD not in str(record.changes) and NEW not in str(record.changes)
    node(tmp_path, database_url, "e", NEW).close()
    with pytest.raises(SecretKeyError):
        node(tmp_path, database_url, "f", OLD)
