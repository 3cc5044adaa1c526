"""Pages of list results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from jobplan.errors import InvalidInput

__all__ = ["MAX_OFFSET", "MAX_PAGE_SIZE", "Page", "check_page"]

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
