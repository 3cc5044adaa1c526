"""API keys and refresh tokens: only hashes of their secrets are stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from jobplan.store._util import as_values, mapped, new_id, utcnow
from jobplan.store.records import ApiKeyRecord, RefreshTokenRecord
from jobplan.store.tables import api_keys, refresh_tokens

__all__ = [
    "get_api_key",
    "get_refresh_token_by_hash",
    "insert_api_key",
    "insert_refresh_token",
    "list_api_keys",
    "mark_refresh_token_used",
    "purge_refresh_tokens",
    "refresh_family_active",
    "revoke_api_key",
    "revoke_refresh_family",
    "revoke_user_credentials_in",
    "revoke_user_refresh_tokens",
    "touch_api_key",
]


def insert_api_key(
    conn: Connection,
    key_id: str,
    tenant_id: str,
    user_id: str,
    name: str,
    secret_hash: str,
    scopes: list[str] | None,
    expires_at: datetime | None,
) -> ApiKeyRecord:
    record = ApiKeyRecord(
        key_id, tenant_id, user_id, name, secret_hash, scopes, utcnow(), expires_at, None, None
    )
    conn.execute(api_keys.insert().values(**as_values(record)))
    return record


def get_api_key(conn: Connection, key_id: str) -> ApiKeyRecord | None:
    return mapped(
        ApiKeyRecord, conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    )


def list_api_keys(
    conn: Connection, tenant_id: str, user_id: str | None, limit: int, offset: int
) -> tuple[list[ApiKeyRecord], int]:
    """Keys of a tenant, newest first; only ``user_id``'s when given."""
    condition = api_keys.c.tenant_id == tenant_id
    if user_id is not None:
        condition = condition & (api_keys.c.user_id == user_id)
    rows = conn.execute(
        select(api_keys)
        .where(condition)
        .order_by(api_keys.c.created_at.desc(), api_keys.c.id)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(api_keys).where(condition)).scalar_one()
    return [ApiKeyRecord(**r._mapping) for r in rows], total


def revoke_api_key(conn: Connection, key_id: str) -> None:
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def touch_api_key(conn: Connection, key_id: str, when: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=when))


def insert_refresh_token(
    conn: Connection,
    family_id: str,
    user_id: str,
    tenant_id: str,
    token_hash: str,
    expires_at: datetime,
) -> RefreshTokenRecord:
    record = RefreshTokenRecord(
        new_id(), family_id, user_id, tenant_id, token_hash, utcnow(), expires_at, None, None
    )
    conn.execute(refresh_tokens.insert().values(**as_values(record)))
    return record


def get_refresh_token_by_hash(conn: Connection, token_hash: str) -> RefreshTokenRecord | None:
    query = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return mapped(RefreshTokenRecord, conn.execute(query).first())


def mark_refresh_token_used(conn: Connection, token_id: str) -> bool:
    """Mark a token used; ``False`` if it already was (a concurrent refresh won)."""
    result = conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.id == token_id, refresh_tokens.c.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def revoke_user_refresh_tokens(conn: Connection, user_id: str) -> None:
    """Revoke every refresh token of a user (password changed, account disabled)."""
    conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_user_credentials_in(conn: Connection, user_id: str, tenant_id: str) -> None:
    """Revoke a user's refresh tokens and API keys in one tenant (removed from it)."""
    conn.execute(
        update(refresh_tokens)
        .where(
            refresh_tokens.c.user_id == user_id,
            refresh_tokens.c.tenant_id == tenant_id,
            refresh_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    conn.execute(
        update(api_keys)
        .where(
            api_keys.c.user_id == user_id,
            api_keys.c.tenant_id == tenant_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


def purge_refresh_tokens(conn: Connection, now: datetime, limit: int = 1000) -> int:
    """Delete refresh tokens past their expiry (used or not: an expired token is refused
    whatever else is true of it, so reuse detection does not need it any more)."""
    ids = [
        row.id
        for row in conn.execute(
            select(refresh_tokens.c.id).where(refresh_tokens.c.expires_at < now).limit(limit)
        )
    ]
    if ids:
        conn.execute(delete(refresh_tokens).where(refresh_tokens.c.id.in_(ids)))
    return len(ids)


def revoke_refresh_family(conn: Connection, family_id: str) -> None:
    conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def refresh_family_active(conn: Connection, family_id: str, now: datetime) -> bool:
    """Whether a family has an unrevoked, unexpired token (a console session is alive)."""
    row = conn.execute(
        select(refresh_tokens.c.id)
        .where(
            refresh_tokens.c.family_id == family_id,
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > now,
        )
        .limit(1)
    ).first()
    return row is not None
