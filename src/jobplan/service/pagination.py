"""Pages of list results."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from jobplan.errors import InvalidInput

__all__ = [
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "KeysetPage",
    "Page",
    "check_page",
    "decode_cursor",
    "encode_cursor",
]

T = TypeVar("T")
MAX_PAGE_SIZE = 500
MAX_OFFSET = 10_000_000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of ``items`` out of ``total``, starting at ``offset``."""

    items: list[T]
    total: int
    limit: int
    offset: int


def check_page(limit: int, offset: int) -> None:
    """Refuse page parameters outside their bounds."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"must be between 0 and {MAX_OFFSET}", field="offset")


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """One page of a keyset walk: ``items``, and the cursor of the next page (``None`` when
    this page is the last: it holds fewer than ``limit`` items)."""

    items: list[T]
    limit: int
    next_cursor: str | None


def encode_cursor(created_at: datetime, item_id: str) -> str:
    """An opaque cursor naming a list item by its sort key: creation time and id."""
    text = f"{created_at.isoformat()}|{item_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The sort key a cursor names; ``None`` for the empty cursor (the first page).
    :class:`InvalidInput` for anything this server did not give out."""
    if cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, sep, item_id = text.partition("|")
        at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        at, sep, item_id = None, "", ""
    if at is None or not sep or not item_id or at.tzinfo is None or len(item_id) > 64:
        raise InvalidInput(
            "is not a cursor this server gave out (pass a page's X-Next-Cursor, or an empty "
            "cursor for the first page)",
            field="cursor",
        )
    return at, item_id
