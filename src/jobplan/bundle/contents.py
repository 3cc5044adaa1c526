"""What goes into a bundle and what comes out of one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from jobplan.bundle.errors import clip
from jobplan.bundle.manifest import Manifest
from jobplan.model import CalendarDocument, PlanDocument

__all__ = ["BundleContents", "BundlePlan", "BundleWarning"]

_WARNING_BYTES = 600
"""A warning's message, in UTF-8 (warnings quote bundle text shortened, and are stored)."""


@dataclass(frozen=True, slots=True)
class BundlePlan:
    """A plan document with the metadata of the stored version it came from.

    ``version`` defaults to the document's own ``version``; ``version_id`` is the source's id
    of that version (kept in the manifest, informational on import).
    """

    document: PlanDocument
    version: str | None = None
    version_id: str | None = None

    @property
    def effective_version(self) -> str | None:
        """``version``, else the document's ``version``."""
        return self.version if self.version is not None else self.document.version


@dataclass(frozen=True, slots=True)
class BundleWarning:
    """Something the reader accepted but a person should know about (an ignored Ikasan field,
    an unused token value, a suspicious Ikasan export)."""

    message: str
    entry: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", clip(self.message, _WARNING_BYTES))

    def __str__(self) -> str:
        return f"{self.entry}: {self.message}" if self.entry else self.message


@dataclass(frozen=True, slots=True)
class BundleContents:
    """A bundle, read and checked: valid plan documents and what the reader noticed."""

    plans: list[BundlePlan]
    """In manifest order for jobplan bundles, in context-entry order for Ikasan exports."""
    source: Literal["jobplan", "ikasan"]
    """``jobplan`` when the bundle has a manifest, ``ikasan`` otherwise."""
    manifest: Manifest | None = None
    tokens: tuple[str, ...] = ()
    """Placeholder names the bundle contained (all of them were replaced)."""
    warnings: list[BundleWarning] = field(default_factory=list)
    root_folder: str | None = None
    """The folder all entries were inside (Ikasan's ``1689090642324-MyFirstJobPlan``)."""
    calendars: list[CalendarDocument] = field(default_factory=list)
    """The calendars the bundle carries (``calendars/<name>.json``), by name."""

    @property
    def documents(self) -> list[PlanDocument]:
        """The plan documents alone."""
        return [plan.document for plan in self.plans]
