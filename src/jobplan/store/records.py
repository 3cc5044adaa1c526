"""Plain records read from the database. Not API schemas: adapters shape their own views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobplan.model import plan_path

__all__ = [
    "AgentRecord",
    "ApiKeyRecord",
    "AuditRecord",
    "BackfillRecord",
    "CalendarRecord",
    "FolderRecord",
    "JobRunRecord",
    "JobRunStateRecord",
    "MembershipRecord",
    "NotificationRecord",
    "PlanRecord",
    "PlanRunRecord",
    "PlanStatsRecord",
    "PlanVersionRecord",
    "RefreshTokenRecord",
    "RerunRecord",
    "SecretRecord",
    "TenantRecord",
    "TransferJobRecord",
    "UserRecord",
]


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: str
    name: str
    display_name: str
    settings: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    password_hash: str
    display_name: str
    is_system_admin: bool
    disabled: bool
    created_at: datetime
    #: an account from before user names were per tenant: it may sign in without a tenant
    global_name: bool = False


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    user_id: str
    tenant_id: str
    role: str
    created_at: datetime
    username: str


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    tenant_id: str
    user_id: str
    name: str
    secret_hash: str
    scopes: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CalendarRecord:
    """A tenant's named calendar of days (``YYYY-MM-DD`` and ``MM-DD`` strings, sorted)."""

    id: str
    tenant_id: str
    name: str
    description: str
    days: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A registered agent. ``key_hash`` is the SHA-256 of its key's secret, never the key;
    host, version, connected_since, last_heartbeat and slots are what the agent reports
    (``None`` until the agent protocol fills them)."""

    id: str
    tenant_id: str
    name: str
    labels: list[str]
    key_hash: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    host: str | None
    version: str | None
    connected_since: datetime | None
    last_heartbeat: datetime | None
    slots: int | None


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    id: str
    family_id: str
    user_id: str
    tenant_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class FolderRecord:
    id: str
    tenant_id: str
    path: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: str
    tenant_id: str
    folder: str
    name: str
    enabled: bool
    current_version_id: str | None
    current_version: str | None
    created_at: datetime
    updated_at: datetime
    next_fire_time: datetime | None = None
    last_fire_time: datetime | None = None
    disabled_jobs: list[str] | None = None

    @property
    def path(self) -> str:
        """``folder/name`` (see :func:`jobplan.model.plan_path`)."""
        return plan_path(self.folder, self.name)


@dataclass(frozen=True, slots=True)
class PlanVersionRecord:
    id: str
    plan_id: str
    tenant_id: str
    version: str
    format_version: int
    document: dict[str, Any]
    comment: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanVersionRef:
    """A stored version without its document (for choosing versions)."""

    id: str
    plan_id: str
    version: str


@dataclass(frozen=True, slots=True)
class PlanRunRecord:
    id: str
    tenant_id: str
    plan_id: str
    plan_path: str
    plan_version_id: str
    version: str
    status: str
    trigger: str
    scheduled_for: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    deadline_at: datetime | None
    purge_after: datetime | None
    parameters: dict[str, str]
    history: str
    reason: str | None
    created_by: str
    overdue_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    """A backfill: ``fires`` (UTC, oldest first) of which the first ``opened`` have a run."""

    id: str
    tenant_id: str
    plan_id: str
    plan_path: str
    start: datetime
    end: datetime
    max_active: int
    timezone: str
    fires: list[str]
    opened: int
    state: str
    reason: str | None
    created_by: str
    created_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobRunStateRecord:
    """The fields of a job run that evaluating its plan run reads (see
    ``runs.job_run_states_of``): a narrow read of every job run of a plan run, done on every
    finish, where the full :class:`JobRunRecord` (flags, agent, exit codes, ...) costs about
    ten times as much to read and build. Of a job run that is not WAITING only ``id``,
    ``job_name`` and ``status`` are read: evaluation changes none of its fields."""

    id: str
    job_name: str
    status: str
    attempt: int | None
    queued_at: datetime | None
    wake_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    reason: str | None
    owner_node: str | None


@dataclass(frozen=True, slots=True)
class JobRunRecord:
    id: str
    tenant_id: str
    plan_run_id: str
    job_name: str
    kind: str
    status: str
    attempt: int
    retries: int
    wake_at: datetime | None
    owner_node: str | None
    lease_until: datetime | None
    stop_requested: bool
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    http_status: int | None
    pid: int | None
    reason: str | None
    flags: list[str]
    acknowledged: bool
    #: the agent (``edge-1``) or label (``label:linux``) its job names; None: the server
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class RerunRecord:
    """One re-run of a plan run: what was asked, by whom, and the run and its cleared job
    runs as they stood before it (``jobs``: one dict per job run, see ``store.runs``)."""

    id: str
    tenant_id: str
    plan_run_id: str
    number: int
    requested_by: str
    requested_at: datetime
    selection: dict[str, Any]
    previous_status: str
    previous_started_at: datetime | None
    previous_ended_at: datetime | None
    previous_reason: str | None
    jobs: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class PlanStatsRecord:
    plan_id: str
    tenant_id: str
    total: int
    succeeded: int
    failed: int
    ended: int
    total_duration_seconds: float
    last_status: str | None
    last_run_at: datetime | None


@dataclass(frozen=True, slots=True)
class TransferJobRecord:
    """An asynchronous bundle export or import and what became of it."""

    id: str
    tenant_id: str
    kind: str
    status: str
    progress: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    reason: str | None
    created_by: str
    created_by_name: str
    source_system: str | None
    correlation_id: str | None
    file_name: str | None
    file_size: int | None
    file_sha256: str | None
    node_id: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One message to one recipient about a run (the notification outbox)."""

    id: str
    tenant_id: str
    plan_id: str
    plan_path: str
    plan_run_id: str | None
    job_run_id: str | None
    event: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    owner_node: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what, how, from where, to what, with which outcome and what it changed."""

    id: str
    time: datetime
    tenant_id: str | None
    tenant_name: str | None
    actor_id: str | None
    actor_name: str | None
    api_key_id: str | None
    auth_method: str | None
    source: str | None
    user_agent: str | None
    action: str
    target_type: str | None
    target_id: str | None
    target_path: str | None
    outcome: str
    status: int | None
    message: str | None
    changes: list[dict[str, Any]] | None
    request_id: str | None = None
    """The ``X-Request-ID`` of the request that caused it (``None`` outside HTTP)."""


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """A secret as stored: its value sealed under the key ``key_id`` (never the value)."""

    id: str
    tenant_id: str
    name: str
    key_id: str
    sealed: bytes
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
