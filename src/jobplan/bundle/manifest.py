"""``manifest.json``: what a jobplan bundle holds, and the SHA-256 of every entry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from jobplan.bundle.errors import BundleSchemaError, Problem, UnsupportedFormat, quoted
from jobplan.model import format_location

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "Manifest",
    "ManifestEntry",
    "ManifestPlan",
    "PlanRecord",
    "parse_manifest",
    "parse_record",
    "plan_record",
]

MANIFEST = "manifest.json"
"""Path of the manifest inside a bundle (next to ``context/``)."""
FORMAT: Final = "jobplan-bundle"
FORMAT_VERSION: Final = 1
"""The bundle format this jobplan writes and reads."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestEntry(_Model):
    """Checksum and size of one entry (of its bytes as stored, placeholders included)."""

    sha256: Sha256
    size: int = Field(ge=0)


class ManifestPlan(_Model):
    """A plan (version) in the bundle, as it was in the source tenant."""

    folder: str
    name: str
    version: str | None = None
    version_id: str | None = None
    """The source's id of this plan version, if the exporter gave one."""
    entry: str
    """The plan's context entry, e.g. ``context/nightly.json``."""


class Manifest(_Model):
    """The bundle's table of contents. Entries are listed by path relative to the bundle root
    (``context/nightly.json``); directories and the manifest itself are not listed."""

    format: Literal["jobplan-bundle"] = FORMAT
    format_version: int = FORMAT_VERSION
    jobplan_version: str
    source_tenant: str
    source_system: str | None = None
    correlation_id: str | None = None
    created_at: datetime
    with_tokens: bool = False
    tokens: list[str] = Field(default_factory=list)
    """Names of the placeholders the entries contain, sorted."""
    plans: list[ManifestPlan] = Field(default_factory=list)
    calendars: list[str] | None = None
    """Names of the calendars in ``calendars/`` (left out when there are none, so bundles
    without calendars stay readable by jobplan versions that predate them)."""
    entries: dict[str, ManifestEntry] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON data."""
        return self.model_dump(mode="json", exclude_none=True)


def parse_manifest(data: Any, entry: str = MANIFEST) -> Manifest:
    """Validate parsed ``manifest.json``; the format version is checked first, so a newer
    format is reported as such rather than as a list of unknown fields."""
    if not isinstance(data, dict):
        raise BundleSchemaError([Problem(entry, None, "the manifest must be a JSON object")])
    if data.get("format") != FORMAT:
        raise UnsupportedFormat(
            f"format is {quoted(data.get('format'))}, expected {FORMAT!r}",
            entry=entry,
            field="format",
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"bundle format version {quoted(version)} is not supported: this jobplan reads version "
            f"{FORMAT_VERSION}",
            entry=entry,
            field="format_version",
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(entry, format_location(error["loc"]) or None, error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise BundleSchemaError(problems) from None


PlanRecord = tuple[str | None, str | None]
"""A plan's version and the source's id of that version, as a bundle records them."""


def plan_record(plan: ManifestPlan) -> PlanRecord:
    """The version and version id the manifest gives a plan."""
    return plan.version, plan.version_id


def parse_record(data: Any, entry: str, field: str) -> PlanRecord:
    """The record an Ikasan-layout export keeps in its context (``jobplan.bundle``): the
    manifest's fields (format first, as for the manifest) and the plan's version and id."""
    if not isinstance(data, dict):
        raise BundleSchemaError([Problem(entry, field, "expected an object")])
    for key, expected in (("format", FORMAT), ("format_version", FORMAT_VERSION)):
        if data.get(key) != expected:
            raise UnsupportedFormat(
                f"bundle {key.replace('_', ' ')} {quoted(data.get(key))} is not supported: "
                f"this jobplan reads {expected!r}",
                entry=entry,
                field=f"{field}.{key}",
            )
    found: list[str | None] = []
    for key in ("version", "version_id"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise BundleSchemaError([Problem(entry, f"{field}.{key}", "expected text")])
        found.append(value)
    return found[0], found[1]
