"""Helpers shared by the repository modules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from jobplan.errors import AlreadyExists

__all__ = ["as_values", "mapped", "new_id", "unique_violation_as", "utcnow"]

R = TypeVar("R")


def new_id() -> str:
    """A new random identifier (UUID4, canonical text form)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def as_values(record: Any) -> dict[str, Any]:
    """A slotted record's fields as a column -> value mapping for INSERT."""
    return {name: getattr(record, name) for name in record.__slots__}


def mapped(record_type: Callable[..., R], row: Row[Any] | None) -> R | None:
    """Build ``record_type`` from a row's columns (``None`` stays ``None``)."""
    return None if row is None else record_type(**row._mapping)


@contextmanager
def unique_violation_as(kind: str, key: object) -> Iterator[None]:
    """Turn a unique-constraint violation into :class:`AlreadyExists`."""
    try:
        yield
    except IntegrityError as exc:
        if not _is_unique_violation(exc):
            raise
        raise AlreadyExists(kind, key) from exc


def _is_unique_violation(exc: IntegrityError) -> bool:
    # SQLite: "UNIQUE constraint failed: ..."; PostgreSQL: SQLSTATE 23505 (unique_violation)
    if getattr(exc.orig, "sqlstate", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(exc.orig)
