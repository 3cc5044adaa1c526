"""Size limits applied while reading a bundle, before anything is parsed or returned."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "BundleLimits"]

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BundleLimits:
    """What a bundle may contain. Exceeding any limit raises
    :class:`~jobplan.bundle.errors.BundleTooLarge` naming the entry (when one is to blame).

    Sizes are counted while decompressing, so an archive that lies in its headers is caught
    too. The size defaults admit several 10,000-job plans and refuse zip bombs; the memory
    budget, about 25,000 jobs in all.
    """

    max_archive_bytes: int = 200 * _MIB
    """Size of the zip file itself."""
    max_entries: int = 100_000
    """Entries in the archive, folders included (a 10,000-job plan has about 10,010)."""
    max_entry_bytes: int = 64 * _MIB
    """Uncompressed size of one entry."""
    max_total_bytes: int = 200 * _MIB
    """Uncompressed size of all entries together."""
    max_ratio: int = 100
    """Uncompressed / compressed size, for one entry and for the whole archive..."""
    ratio_check_min_bytes: int = _MIB
    """...once that many bytes have been uncompressed (tiny entries compress unevenly)."""
    max_name_chars: int = 1024
    """Length of an entry's path."""
    max_memory_bytes: int = 256 * _MIB
    """Memory an import may build from the bundle, above what was live before it (see
    :mod:`jobplan.bundle._budget`): zipfile's directory, the entries held, their parsed JSON,
    and what validating and storing the plans takes on top."""
    max_document_bytes: int = 32 * _MIB
    """Size of one JSON entry that is parsed (ignored entries are only counted)."""
    max_document_nodes: int = 1_000_000
    """JSON values (objects, arrays, strings, numbers...) in one parsed entry."""
    max_depth: int = 100
    """Nesting of objects and arrays in one parsed entry."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"BundleLimits.{field.name} must be a positive integer")


DEFAULT_LIMITS = BundleLimits()
