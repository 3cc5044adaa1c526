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
job records ``str(error)`` as its failure reason. Messages quote bundle text through
:func:`quoted` (at most :data:`QUOTE_CHARS` characters, then an ellipsis) and never exceed
:data:`MAX_MESSAGE_BYTES` in UTF-8, however large the bundle's names: a reason is stored and
returned by every status call.
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
    "clip",
    "quoted",
]

QUOTE_CHARS = 120
"""Bundle text (a name, an identifier, a value) is quoted with at most this many characters."""
MAX_MESSAGE_BYTES = 1900
"""A bundle error's message, in UTF-8, never exceeds this (a stored reason stays under 2 KiB)."""
_PATH_CHARS = 240
"""An entry path or field path in a message (entry names may have 1,024 characters)."""
_PROBLEM_BYTES = 400
"""One problem (or token) in a list of them, in UTF-8."""
_MAX_LISTED = 50
_MAX_PLACES_PER_TOKEN = 3
_ELLIPSIS = "\u2026"


def quoted(text: object, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of bundle text, shortened to ``limit`` characters with an ellipsis:
    ``'SampleJob'``, ``'aaaa…'`` — for messages that name what the bundle says."""
    if isinstance(text, str):
        return repr(_cut(text, limit))
    return _cut(repr(text), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + _ELLIPSIS


def clip(text: str, max_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """``text``, cut to at most ``max_bytes`` of UTF-8 (ending in an ellipsis when cut)."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(_ELLIPSIS.encode())
    return encoded[:room].decode("utf-8", "ignore") + _ELLIPSIS


def _where(entry: str | None, field: str | None) -> str:
    return ": ".join(_cut(part, _PATH_CHARS) for part in (entry, field) if part)


def _listing(
    items: Sequence[str], prefix: str, *, sep: str = "; ", budget: int = MAX_MESSAGE_BYTES
) -> str:
    """``prefix`` followed by as many of ``items`` (each clipped) as fit in ``budget`` bytes,
    joined by ``sep``, with ``(and N more)`` for the rest."""
    room = budget - len(prefix.encode()) - 24
    shown: list[str] = []
    used = 0
    for item in items[:_MAX_LISTED]:
        text = clip(item, _PROBLEM_BYTES)
        size = len(text.encode("utf-8", "surrogatepass")) + len(sep)
        if used + size > room and shown:
            break
        shown.append(text)
        used += size
    more = len(items) - len(shown)
    return prefix + sep.join(shown) + (f" (and {more} more)" if more > 0 else "")


class BundleError(InvalidInput):
    """A bundle (or one of its entries) cannot be used.

    ``entry`` is the entry's path inside the bundle (``jobs/internal/nightly/load.json``) when
    the problem is in one entry; ``field`` is the field path (``stages[0].jobs[2].command`` or
    an Ikasan field such as ``contexts[0].jobDependencies[1]``) when known; ``detail`` is the
    explanation alone.
    """

    def __init__(self, detail: str, *, entry: str | None = None, field: str | None = None):
        where = _where(entry, field)
        super().__init__(clip(f"{where}: {detail}" if where else detail))
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
        listed = _listing(parts, f"{len(names)} replacement token(s) have no value: ", budget=1300)
        wanted = _listing(names, "Give a value for each of: ", sep=", ", budget=550)
        super().__init__(f"{listed}. {wanted}")
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
        return clip(f"{where}: {self.message}" if where else self.message, _PROBLEM_BYTES)


class BundleSchemaError(BundleError):
    """Entries do not describe a valid plan; ``problems`` lists each one (entry + field).

    ``entry``, ``field`` and ``detail`` describe the first problem.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("BundleSchemaError needs at least one problem")
        first = problems[0]
        super().__init__(first.message, entry=first.entry, field=first.field)
        prefix = f"{len(problems)} problems: " if len(problems) > 1 else ""
        text = _listing([str(problem) for problem in problems], prefix)
        self.args = (text,)
        self.message = text
        self.problems = tuple(problems)
