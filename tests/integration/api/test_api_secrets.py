"""``/api/v1/secrets``: set, list, delete, and no way to read a value back.

Values are sealed before they reach the database (the rows, the database file on SQLite and
a ``pg_dump`` on PostgreSQL do not hold them), audit records name the secret and never the
value, another tenant's secrets are invisible, and bad input is refused with a message that
never quotes the value. On SQLite and PostgreSQL (the ``database`` fixture)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jobplan.service.container import Services
from jobplan.store.secret_box import KEY_FILE, Sealed
from jobplan.store.tables import audit_records, secrets
from support.api import Actor, make_tenant, make_user

VALUE = "pa55-Wörd-7f3c9e1b"


def _put(client: TestClient, actor: Actor, name: str, value: object) -> dict[str, object]:
    response = client.put(f"/api/v1/secrets/{name}", headers=actor.headers, json={"value": value})
    assert response.status_code in (200, 201), response.text
    answer: dict[str, object] = response.json()
    return answer


def test_a_value_is_set_replaced_listed_and_deleted_but_never_answered(
    client: TestClient, root: Actor, services: Services
) -> None:
    created = client.put("/api/v1/secrets/DB_PASSWORD", headers=root.headers, json={"value": VALUE})
    assert created.status_code == 201, created.text
    assert VALUE not in created.text
    assert created.json()["created_by"] == "root" and created.json()["updated_by"] == "root"
    operator = make_user(client, root, "ops", "operator")
    replaced = client.put(
        "/api/v1/secrets/DB_PASSWORD", headers=operator.headers, json={"value": VALUE + "2"}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["created_by"] == "root" and replaced.json()["updated_by"] == "ops"
    listed = client.get("/api/v1/secrets", headers=root.headers)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert [s["name"] for s in listed.json()] == ["DB_PASSWORD"]
    shown = client.get("/api/v1/secrets/DB_PASSWORD", headers=root.headers)
    for answer in (listed, shown):
        assert VALUE not in answer.text
        assert "value" not in answer.text and "sealed" not in answer.text
    with services.database.read() as conn:
        row = conn.execute(select(secrets)).one()
    assert VALUE.encode() not in row.sealed and VALUE not in str(tuple(row))
    assert services.secrets.box.open(row.tenant_id, "DB_PASSWORD", Sealed(row.key_id, row.sealed))
    deleted = client.delete("/api/v1/secrets/DB_PASSWORD", headers=operator.headers)
    assert deleted.status_code == 204
    assert client.get("/api/v1/secrets/DB_PASSWORD", headers=root.headers).status_code == 404
    again = client.delete("/api/v1/secrets/DB_PASSWORD", headers=root.headers)
    assert again.status_code == 404 and "DB_PASSWORD" in again.json()["detail"]
    with services.database.read() as conn:
        records = conn.execute(
            select(audit_records)
            .where(audit_records.c.action.like("secret.%"))
            .order_by(audit_records.c.time)
        ).all()
    assert [(r.action, r.outcome, r.target_path) for r in records] == [
        ("secret.set", "done", "DB_PASSWORD"),
        ("secret.set", "done", "DB_PASSWORD"),
        ("secret.delete", "done", "DB_PASSWORD"),
        ("secret.delete", "refused", "DB_PASSWORD"),
    ]
    assert [r.actor_name for r in records[:3]] == ["root", "ops", "ops"]
    for record in records:
        assert VALUE not in str(tuple(record))


def test_refusals_name_the_problem_and_never_the_value(
    client: TestClient, root: Actor, services: Services
) -> None:
    cases: list[tuple[str, object, str]] = [
        ("bad name!", "x", "a secret name is 1-128 letters"),
        ("-leading", "x", "a secret name is 1-128 letters"),
        ("N" * 129, "x", "a secret name is 1-128 letters"),
        ("EMPTY", "", "must not be empty"),
        ("BIG", "s3cr3t" + "x" * (64 * 1024), "at most 65536 bytes"),
        ("NUL", "s3cr3t\0x", "NUL"),
    ]
    for name, value, message in cases:
        body = {"value": value}
        response = client.put(f"/api/v1/secrets/{name}", headers=root.headers, json=body)
        assert response.status_code == 422, (name, response.text)
        assert message in response.text, response.text
        assert "s3cr3t" not in response.text
    for body in ({"value": 12}, {}, {"value": "x", "other": 1}):
        response = client.put("/api/v1/secrets/OK", headers=root.headers, json=body)
        assert response.status_code == 422, response.text
    with services.database.read() as conn:
        assert conn.execute(select(secrets)).all() == []
        refused = conn.execute(
            select(audit_records).where(audit_records.c.action == "secret.set")
        ).all()
    assert refused and all(r.outcome == "refused" for r in refused)
    assert all("s3cr3t" not in str(tuple(r)) for r in refused)


def test_permissions_and_tenants(client: TestClient, root: Actor) -> None:
    _put(client, root, "API_TOKEN", VALUE)
    viewer = make_user(client, root, "watcher", "viewer")
    assert [s["name"] for s in client.get("/api/v1/secrets", headers=viewer.headers).json()] == [
        "API_TOKEN"
    ]
    refused = client.put("/api/v1/secrets/API_TOKEN", headers=viewer.headers, json={"value": "x"})
    assert refused.status_code == 403 and "secrets:write" in refused.json()["detail"]
    assert client.delete("/api/v1/secrets/API_TOKEN", headers=viewer.headers).status_code == 403
    other = make_tenant(client, root, "acme")
    assert client.get("/api/v1/secrets", headers=other.headers).json() == []
    assert client.get("/api/v1/secrets/API_TOKEN", headers=other.headers).status_code == 404
    assert client.delete("/api/v1/secrets/API_TOKEN", headers=other.headers).status_code == 404
    # the same name in another tenant is another secret
    assert (
        client.put(
            "/api/v1/secrets/API_TOKEN", headers=other.headers, json={"value": "theirs"}
        ).status_code
        == 201
    )
    key = client.post(
        "/api/v1/api-keys", headers=root.headers, json={"name": "ro", "scopes": ["secrets:read"]}
    ).json()["key"]
    scoped = {"X-API-Key": key}
    assert client.get("/api/v1/secrets", headers=scoped).status_code == 200
    denied = client.put("/api/v1/secrets/X", headers=scoped, json={"value": "x"})
    assert denied.status_code == 403 and "scopes" in denied.json()["detail"]


def test_a_sealed_value_cannot_move_to_another_row(
    client: TestClient, root: Actor, services: Services
) -> None:
    """The tenant and name are the associated data: a copied ciphertext fails to open."""
    _put(client, root, "A", VALUE)
    _put(client, root, "B", "other")
    with services.database.transaction() as conn:
        a = conn.execute(select(secrets).where(secrets.c.name == "A")).one()
        conn.execute(secrets.update().where(secrets.c.name == "B").values(sealed=a.sealed))
    box = services.secrets.box
    assert box.open(a.tenant_id, "A", Sealed(a.key_id, a.sealed)) == VALUE
    with pytest.raises(Exception, match="altered or moved"):
        box.open(a.tenant_id, "B", Sealed(a.key_id, a.sealed))


def test_the_key_file_is_private_and_the_database_holds_no_value(
    client: TestClient, root: Actor, services: Services
) -> None:
    _put(client, root, "DUMPED", VALUE)
    home = services.settings.home
    key_file = Path(home) / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    needle = VALUE.encode()
    url = services.database.engine.url
    if services.database.dialect == "sqlite":
        # the database and its write-ahead log: wherever the row's bytes are
        path = Path(str(url.database))
        files = list(path.parent.glob(path.name + "*"))
        assert len(files) >= 2, files
        for file in files:
            assert needle not in file.read_bytes(), file
        assert b"DUMPED" in b"".join(f.read_bytes() for f in files)  # the row is there
        return
    pg_dump = shutil.which("pg_dump") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None
    )
    assert pg_dump is not None
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    dump = subprocess.run(
        [
            str(pg_dump),
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-d",
            str(url.database),
        ],
        capture_output=True,
        env=env,
        check=True,
    ).stdout
    assert b"secrets" in dump and needle not in dump
