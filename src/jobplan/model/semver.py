"""Plan version numbers: strict ``MAJOR.MINOR.PATCH`` semantic versions.

Only the three numeric parts are supported (no pre-release or build suffixes): plan versions
are assigned by the store or written by hand, and ordering must be obvious to everyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SemVer", "latest_matching"]

_PART = r"(?:0|[1-9][0-9]{0,8})"
_VERSION_RE = re.compile(rf"({_PART})\.({_PART})\.({_PART})")
_PREFIX_RE = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")
_MAX_TEXT = 40


@dataclass(frozen=True, order=True, slots=True)
class SemVer:
    """A ``MAJOR.MINOR.PATCH`` version; instances order numerically (``1.10.0 > 1.9.3``)."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse ``"1.4.0"``; raise :class:`ValueError` naming the problem otherwise.

        Each part is a non-negative integer of at most nine digits, without leading zeros.
        """
        match = _VERSION_RE.fullmatch(text) if len(text) <= _MAX_TEXT else None
        if match is None:
            raise ValueError(
                f"invalid version {_clip(text)!r}: expected MAJOR.MINOR.PATCH, such as '1.4.0' "
                "(numbers without leading zeros)"
            )
        return cls(int(match[1]), int(match[2]), int(match[3]))

    @classmethod
    def is_valid(cls, text: str) -> bool:
        """Whether ``text`` parses as a version."""
        return len(text) <= _MAX_TEXT and _VERSION_RE.fullmatch(text) is not None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bump_major(self) -> SemVer:
        """``1.4.2`` → ``2.0.0``."""
        return SemVer(self.major + 1, 0, 0)

    def bump_minor(self) -> SemVer:
        """``1.4.2`` → ``1.5.0``."""
        return SemVer(self.major, self.minor + 1, 0)

    def bump_patch(self) -> SemVer:
        """``1.4.2`` → ``1.4.3``."""
        return SemVer(self.major, self.minor, self.patch + 1)

    def matches(self, prefix: str) -> bool:
        """Whether the version starts with the dotted ``prefix`` (see :func:`latest_matching`)."""
        wanted = _parse_prefix(prefix)
        return (self.major, self.minor, self.patch)[: len(wanted)] == wanted


def latest_matching(versions: Iterable[str | SemVer], prefix: str = "") -> SemVer | None:
    """The highest of ``versions`` whose leading parts equal ``prefix``, or ``None``.

    ``prefix`` is ``""`` (any version), ``"3"``, ``"3.2"`` or ``"3.2.1"``, compared part by
    part: ``"3.2"`` matches ``3.2.0`` and ``3.2.17`` but not ``3.20.0``. Raises
    :class:`ValueError` for a malformed prefix or version.
    """
    wanted = _parse_prefix(prefix)
    best: SemVer | None = None
    for item in versions:
        version = item if isinstance(item, SemVer) else SemVer.parse(item)
        if (version.major, version.minor, version.patch)[: len(wanted)] != wanted:
            continue
        if best is None or version > best:
            best = version
    return best


def _parse_prefix(prefix: str) -> tuple[int, ...]:
    if prefix == "":
        return ()
    if len(prefix) > _MAX_TEXT or _PREFIX_RE.fullmatch(prefix) is None:
        raise ValueError(
            f"invalid version prefix {_clip(prefix)!r}: expected MAJOR, MAJOR.MINOR or "
            "MAJOR.MINOR.PATCH, such as '3.2'"
        )
    return tuple(int(part) for part in prefix.split("."))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."
