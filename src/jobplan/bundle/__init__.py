"""Bundles: plans as zip files in Ikasan's export layout, with ``[[token]]`` placeholders.

Pure format layer (no database, no I/O beyond the file handed in): :func:`write_bundle`
streams plans into a zip, :func:`read_bundle` checks a zip — jobplan's own or a real Ikasan
export — and returns valid :class:`~jobplan.model.PlanDocument` objects or raises a
:class:`~jobplan.bundle.errors.BundleError` naming the entry and field. The format is
described in ``docs/bundles.md``. :func:`paused_gc` holds the cyclic garbage collector while
the writer builds entries (``write_bundle(..., pause_collector=True)``); worker threads use it
too while they read the plans for an export. The pause is process-wide: never on a thread
that answers requests.
"""

from __future__ import annotations

from jobplan.bundle._gc import paused_gc
from jobplan.bundle.contents import BundleContents, BundlePlan, BundleWarning
from jobplan.bundle.errors import (
    BundleError,
    BundleSchemaError,
    BundleTooLarge,
    CorruptBundle,
    ManifestMismatch,
    Problem,
    TokenLocation,
    UnknownEntry,
    UnresolvedTokens,
    UnsafeEntry,
    UnsupportedFormat,
)
from jobplan.bundle.limits import DEFAULT_LIMITS, BundleLimits
from jobplan.bundle.manifest import FORMAT_VERSION, Manifest, ManifestEntry, ManifestPlan
from jobplan.bundle.reader import read_bundle
from jobplan.bundle.tokens import TokenSpec
from jobplan.bundle.writer import write_bundle

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "BundleContents",
    "BundleError",
    "BundleLimits",
    "BundlePlan",
    "BundleSchemaError",
    "BundleTooLarge",
    "BundleWarning",
    "CorruptBundle",
    "Manifest",
    "ManifestEntry",
    "ManifestMismatch",
    "ManifestPlan",
    "Problem",
    "TokenLocation",
    "TokenSpec",
    "UnknownEntry",
    "UnresolvedTokens",
    "UnsafeEntry",
    "UnsupportedFormat",
    "paused_gc",
    "read_bundle",
    "write_bundle",
]
