"""Why a bundle was refused: every error names the entry and, where it can, the field.

::

    InvalidInput (jobplan.errors, ValueError)
    └── BundleError                 entry, field, detail: the bundle cannot be used
        ├── CorruptBundle           not a zip, bad CRC or headers, non-UTF-8, not JSON,
        │                           duplicate JSON keys, NaN
        ├── UnsafeEntry             path traversal, absolute path, backslash, drive letter,
        │                           symlink or device entry, duplicate entry, encryption
        ├── BundleTooLarge          too many entries; archive, entry or total size; compression
        │                           ratio (zip bomb)
        ├── UnknownEntry            a file outside the layout, an unknown job folder (kind)
        ├── ManifestMismatch        SHA-256 or size differs, entry missing from or not listed in
        │                           ``manifest.json``
        ├── UnsupportedFormat       a manifest format version this jobplan cannot read
        ├── UnresolvedTokens        ``[[name]]`` placeholders without values (all of them listed)
        └── BundleSchemaError       an entry does not describe a valid plan (every problem listed)

Adapters translate them like any :class:`~jobplan.errors.InvalidInput` (HTTP 422); an import
job records ``str(error)`` as its failure reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jobplan.errors import InvalidInput

__all__ = [
    "BundleError",
    "BundleSchemaError",
    "BundleTooLarge",
    "CorruptBundle",
    "ManifestMismatch",
    "Problem",
    "TokenLocation",
    "UnknownEntry",
    "UnresolvedTokens",
    "UnsafeEntry",
    "UnsupportedFormat",
]

_MAX_LISTED = 50
_MAX_PLACES_PER_TOKEN = 3


def _where(entry: str | None, field: str | None) -> str:
    return ": ".join(part for part in (entry, field) if part)


class BundleError(InvalidInput):
    """A bundle (or one of its entries) cannot be used.

    ``entry`` is the entry's path inside the bundle (``jobs/internal/nightly/load.json``) when
    the problem is in one entry; ``field`` is the field path (``stages[0].jobs[2].command`` or
    an Ikasan field such as ``contexts[0].jobDependencies[1]``) when known; ``detail`` is the
    explanation alone.
    """

    def __init__(self, detail: str, *, entry: str | None = None, field: str | None = None):
        where = _where(entry, field)
        super().__init__(f"{where}: {detail}" if where else detail)
        self.entry = entry
        self.field = field
        self.detail = detail


class CorruptBundle(BundleError):
    """The archive or an entry is damaged or not in the expected encoding (zip, UTF-8, JSON)."""


class UnsafeEntry(BundleError):
    """An entry could write outside the target or hide what it is: refused before reading."""


class BundleTooLarge(BundleError):
    """A size limit of :class:`~jobplan.bundle.BundleLimits` was exceeded."""


class UnknownEntry(BundleError):
    """An entry that is not part of the bundle layout (or an unknown job folder)."""


class ManifestMismatch(BundleError):
    """The entries do not match ``manifest.json``: the bundle was altered or truncated."""


class UnsupportedFormat(BundleError):
    """``manifest.json`` declares a format (version) this jobplan cannot read."""


@dataclass(frozen=True, slots=True)
class TokenLocation:
    """Where a placeholder occurs: the entry and the JSON path of the string inside it."""

    entry: str
    field: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.field}"


class UnresolvedTokens(BundleError):
    """The bundle has ``[[name]]`` placeholders for which no value was given.

    ``unresolved`` maps every missing name to every place it occurs; the message lists every
    name with its first places.
    """

    def __init__(self, unresolved: Mapping[str, Sequence[TokenLocation]]) -> None:
        names = sorted(unresolved)
        parts = []
        for name in names:
            places = list(unresolved[name])
            shown = ", ".join(str(place) for place in places[:_MAX_PLACES_PER_TOKEN])
            more = len(places) - _MAX_PLACES_PER_TOKEN
            suffix = f" and {more} more" if more > 0 else ""
            parts.append(f"[[{name}]] (in {shown}{suffix})")
        listed = "; ".join(parts)
        super().__init__(
            f"{len(names)} replacement token(s) have no value: {listed}. Give a value for "
            f"each of: {', '.join(names)}"
        )
        self.unresolved: dict[str, tuple[TokenLocation, ...]] = {
            name: tuple(unresolved[name]) for name in names
        }
        self.names = tuple(names)


@dataclass(frozen=True, slots=True)
class Problem:
    """One schema problem: the entry, the field path and what is wrong."""

    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = _where(self.entry, self.field)
        return f"{where}: {self.message}" if where else self.message


class BundleSchemaError(BundleError):
    """Entries do not describe a valid plan; ``problems`` lists each one (entry + field).

    ``entry``, ``field`` and ``detail`` describe the first problem.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("BundleSchemaError needs at least one problem")
        first = problems[0]
        super().__init__(first.message, entry=first.entry, field=first.field)
        shown = "; ".join(str(problem) for problem in problems[:_MAX_LISTED])
        more = len(problems) - _MAX_LISTED
        text = shown + (f" (and {more} more)" if more > 0 else "")
        if len(problems) > 1:
            text = f"{len(problems)} problems: {text}"
        self.args = (text,)
        self.message = text
        self.problems = tuple(problems)
