"""What callers ask of the transfer service, and the kinds, statuses and limits of its jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from jobplan.service.plans import OnConflict

__all__ = [
    "ExportOptions",
    "ImportOptions",
    "TransferKind",
    "TransferLimits",
    "TransferStatus",
]


class TransferKind(StrEnum):
    EXPORT = "export"
    IMPORT = "import"


class TransferStatus(StrEnum):
    CREATED = "created"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLOSED_BY_TIMEOUT = "closed_by_timeout"


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What to export: the union of the selections, filtered by ``version_filter``."""

    folders: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    """``folder/plan``, ``folder/plan[version-prefix]`` or a plan id."""
    plan_ids: tuple[str, ...] = ()
    version_ids: tuple[str, ...] = ()
    version_filter: Literal["all", "latest"] = "all"
    file_filter: Literal["migrate", "runtime"] = "migrate"
    """``migrate``: everything; ``runtime``: plan entries and manifest only (no empty Ikasan
    folders, no history)."""
    with_tokens: bool = False
    context_name: Literal["keep", "token", "env_suffix"] = "keep"
    """With tokens: keep plan names, make them ``[[context.name]]``, or turn an environment
    suffix into a token (``eod_PROD`` -> ``eod_[[env.name]]``), as Ikasan's exports do."""
    include_history: bool = False
    source_system: str | None = None
    correlation_id: str | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class ImportOptions:
    tokens: dict[str, str] = field(default_factory=dict)
    on_conflict: OnConflict = OnConflict.ABORT
    dry_run: bool = False
    folder: str = ""
    """Folder for plans whose bundle does not name one (Ikasan exports)."""
    source_system: str | None = None
    correlation_id: str | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """A tenant's limits: the server's settings, overridden by the tenant's own settings."""

    job_limit: int
    max_package_bytes: int
    timeout_seconds: float
