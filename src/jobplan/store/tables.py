"""Table definitions (SQLAlchemy Core). The only place the schema is described in Python;
migrations in ``migrations/versions`` must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

__all__ = [
    "agents",
    "api_keys",
    "audit_records",
    "backfill_runs",
    "backfills",
    "calendars",
    "events",
    "folders",
    "job_run_output",
    "job_runs",
    "lock_holders",
    "login_failures",
    "memberships",
    "metadata",
    "nodes",
    "notifications",
    "plan_run_reruns",
    "plan_runs",
    "plan_stats",
    "plan_versions",
    "plans",
    "refresh_tokens",
    "secrets",
    "service_registry",
    "tenants",
    "transfer_jobs",
    "users",
    "voltmx_jobs",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database (SQLite keeps no offset, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _created() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("settings", JSON, nullable=False),
    _created(),
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    # unique per tenant, not server-wide: see memberships.username
    Column("username", String(64), nullable=False, index=True),
    Column("password_hash", String(255), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("is_system_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    _created(),
    # accounts from before names were per tenant (their names are unique server-wide): they
    # may still sign in without naming their tenant
    Column("global_name", Boolean, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    _created(),
    # the member's user name (the account's, which never changes): names are unique among a
    # tenant's members, so (tenant, name) picks one account at sign-in
    Column("username", String(64), nullable=False),
    Index(None, "tenant_id"),
    UniqueConstraint("tenant_id", "username"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSON, nullable=True),
    _created(),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index(None, "tenant_id", "user_id"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("key_hash", String(64), nullable=False),
    _created(),
    # the user who registered it (no foreign key: the agent outlives its creator's account)
    Column("created_by", String(36), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    # filled by the agent protocol (issue #14 item 1): what the agent says about itself
    Column("host", String(255), nullable=True),
    Column("version", String(64), nullable=True),
    Column("connected_since", UTCDateTime(), nullable=True),
    Column("last_heartbeat", UTCDateTime(), nullable=True),
    Column("slots", Integer, nullable=True),
    # a name is unique among a tenant's live agents: a revoked one's name can be registered anew
    Index(
        "uq_agents_tenant_id_name_live",
        "tenant_id",
        "name",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)

secrets = Table(
    "secrets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    # the value, sealed with AES-256-GCM (store/secret_box.py) under the key named key_id;
    # the key itself is never in the database
    Column("key_id", String(16), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    _created(),
    # user names (not ids): who set it stays readable after the account is gone
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("family_id", String(36), nullable=False),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _created(),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index(None, "family_id"),
)

folders = Table(
    "folders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("path", String(512), nullable=False),
    Column("description", Text, nullable=False),
    _created(),
    UniqueConstraint("tenant_id", "path"),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("folder", String(512), nullable=False),
    Column("name", String(100), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("current_version_id", String(36), nullable=True),
    Column("current_version", String(64), nullable=True),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
    # scheduling state of the plan's window (see engine/scheduler.py)
    Column("next_fire_time", UTCDateTime(), nullable=True),
    Column("last_fire_time", UTCDateTime(), nullable=True),
    Column("disabled_jobs", JSON, nullable=True),
    UniqueConstraint("tenant_id", "folder", "name"),
    Index(None, "next_fire_time"),
)

plan_versions = Table(
    "plan_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("plan_id", String(36), ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(64), nullable=False),
    Column("major", Integer, nullable=False),
    Column("minor", Integer, nullable=False),
    Column("patch", Integer, nullable=False),
    Column("format_version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    _created(),
    UniqueConstraint("plan_id", "version"),
)

# named sets of days windows skip or fire only on (see engine/calendars.py); ``days`` is the
# sorted list of ``YYYY-MM-DD`` / ``MM-DD`` strings
calendars = Table(
    "calendars",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("days", JSON, nullable=False),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)


# --- runs ------------------------------------------------------------------------------------

nodes = Table(
    "nodes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    Column("stopped_at", UTCDateTime(), nullable=True),
    # null on rows written before these columns existed (0007)
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("version", String(64), nullable=True),
    Column("loops", JSON, nullable=True),  # the loops the node runs, by name
)

plan_runs = Table(
    "plan_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # no foreign key: history outlives a deleted plan
    Column("plan_id", String(36), nullable=False),
    Column("plan_path", String(700), nullable=False),
    Column("plan_version_id", String(36), nullable=False),
    Column("version", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("scheduled_for", UTCDateTime(), nullable=True),
    _created(),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("deadline_at", UTCDateTime(), nullable=True),
    Column("purge_after", UTCDateTime(), nullable=True),
    Column("parameters", JSON, nullable=False),
    Column("history", String(8), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_by", String(64), nullable=False),
    # when the run becomes overdue (notifications.overdue_after_seconds); cleared once told
    Column("overdue_at", UTCDateTime(), nullable=True),
    Index(None, "tenant_id", "plan_id", "created_at"),
    # a tenant's runs newest first (keyset pages of GET /api/v1/runs)
    Index(None, "tenant_id", "created_at"),
    Index(None, "plan_id", "status"),
    Index(None, "status", "deadline_at"),
    Index(None, "purge_after"),
    # partial: only the few runs waiting to become overdue are in it
    Index(
        "ix_plan_runs_overdue_at",
        "overdue_at",
        sqlite_where=text("overdue_at IS NOT NULL"),
        postgresql_where=text("overdue_at IS NOT NULL"),
    ),
    # partial: the open runs (what /metrics counts at every scrape), not the history
    Index(
        "ix_plan_runs_open_status",
        "status",
        sqlite_where=text("ended_at IS NULL"),
        postgresql_where=text("ended_at IS NULL"),
    ),
)

# a backfill: the fire times of a plan's window in a past range, opened as runs a few at a
# time (engine/state.py RunState.advance_backfill); fires are fixed when it is created
backfills = Table(
    "backfills",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # no foreign key: the record outlives a deleted plan (it is then cancelled)
    Column("plan_id", String(36), nullable=False),
    Column("plan_path", String(700), nullable=False),
    Column("start", UTCDateTime(), nullable=False),
    Column("end", UTCDateTime(), nullable=False),
    Column("max_active", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),  # the window's, when it was created
    Column("fires", JSON, nullable=False),  # ISO 8601 UTC fire times, oldest first
    Column("opened", Integer, nullable=False),  # how many of them have a run
    Column("state", String(16), nullable=False),  # running | complete | cancelled
    Column("reason", Text, nullable=True),
    Column("created_by", String(64), nullable=False),
    _created(),
    Column("ended_at", UTCDateTime(), nullable=True),
    Index(None, "tenant_id", "created_at"),
    Index(None, "state"),
)

# the runs a backfill opened (a run belongs to at most one backfill)
backfill_runs = Table(
    "backfill_runs",
    metadata,
    Column("plan_run_id", String(36), primary_key=True),
    Column(
        "backfill_id", String(36), ForeignKey("backfills.id", ondelete="CASCADE"), nullable=False
    ),
    Column("scheduled_for", UTCDateTime(), nullable=False),
    Index(None, "backfill_id"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column(
        "plan_run_id", String(36), ForeignKey("plan_runs.id", ondelete="CASCADE"), nullable=False
    ),
    Column("job_name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    # failed attempts since the job run was started or last reset (drives retries)
    Column("retries", Integer, nullable=False),
    # when the runner should look at this job run next (ready, retry backoff, time gate, poll)
    Column("wake_at", UTCDateTime(), nullable=True),
    Column("owner_node", String(36), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("stop_requested", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("queued_at", UTCDateTime(), nullable=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("http_status", Integer, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("flags", JSON, nullable=False),
    Column("acknowledged", Boolean, nullable=False),
    # where a command or file job runs: an agent's name, or ``label:<label>`` (any agent with
    # the label); NULL: on the server (docs/agents.md#routing)
    Column("agent", String(108), nullable=True),
    UniqueConstraint("plan_run_id", "job_name"),
    Index(None, "status", "wake_at"),
    Index(None, "tenant_id", "status"),
    # a tenant's job runs newest first (keyset pages of GET /api/v1/job-runs)
    Index(None, "tenant_id", "created_at"),
    # agents' claims: only routed rows are indexed
    Index(
        "ix_job_runs_agent_claim",
        "tenant_id",
        "agent",
        "status",
        "wake_at",
        sqlite_where=text("agent IS NOT NULL"),
        postgresql_where=text("agent IS NOT NULL"),
    ),
)

plan_run_reruns = Table(
    "plan_run_reruns",
    metadata,
    # one row per re-run of a finished (or stalled) plan run: what was asked, by whom, and
    # the results the cleared job runs had before it (their output stays under its attempt)
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column(
        "plan_run_id", String(36), ForeignKey("plan_runs.id", ondelete="CASCADE"), nullable=False
    ),
    Column("number", Integer, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    # {"jobs": "failed" | "all" | [names], "downstream": bool, "force": bool}
    Column("selection", JSON, nullable=False),
    Column("previous_status", String(16), nullable=False),
    Column("previous_started_at", UTCDateTime(), nullable=True),
    Column("previous_ended_at", UTCDateTime(), nullable=True),
    Column("previous_reason", Text, nullable=True),
    # the cleared job runs as they stood: name, id, attempt, status, exit code, times, reason
    Column("jobs", JSON, nullable=False),
    UniqueConstraint("plan_run_id", "number"),
)

job_run_output = Table(
    "job_run_output",
    metadata,
    Column(
        "job_run_id",
        String(36),
        ForeignKey("job_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("attempt", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("chunk", Text, nullable=False),
)

lock_holders = Table(
    "lock_holders",
    metadata,
    Column(
        "job_run_id", String(36), ForeignKey("job_runs.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("tenant_id", String(36), nullable=False),
    Column("lock_name", String(100), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Index(None, "tenant_id", "lock_name"),
)

events = Table(
    "events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("raised_by", String(200), nullable=False),
    Index(None, "tenant_id", "name", "raised_at"),
)

plan_stats = Table(
    "plan_stats",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("total", Integer, nullable=False),
    Column("succeeded", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("ended", Integer, nullable=False),
    Column("total_duration_seconds", Float, nullable=False),
    Column("last_status", String(16), nullable=True),
    Column("last_run_at", UTCDateTime(), nullable=True),
)

transfer_jobs = Table(
    "transfer_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # export | import
    Column("status", String(20), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("request", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_by", String(36), nullable=False),
    Column("created_by_name", String(200), nullable=False),
    Column("source_system", String(200), nullable=True),
    Column("correlation_id", String(200), nullable=True),
    Column("file_name", String(255), nullable=True),
    Column("file_size", BigInteger, nullable=True),
    Column("file_sha256", String(64), nullable=True),
    Column("node_id", String(36), nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    _created(),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("deadline_at", UTCDateTime(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Index(None, "tenant_id", "kind", "status"),
    Index(None, "tenant_id", "created_at"),
    Index(None, "status", "deadline_at"),
)

# --- notifications ---------------------------------------------------------------------------

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # no foreign keys to plans and runs: the outbox outlives a purged run or deleted plan
    Column("plan_id", String(36), nullable=False),
    Column("plan_path", String(700), nullable=False),
    Column("plan_run_id", String(36), nullable=True),
    Column("job_run_id", String(36), nullable=True),
    Column("event", String(24), nullable=False),  # run_failed | run_completed | ...
    Column("channel", String(8), nullable=False),  # webhook | email
    Column("recipient", String(2048), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(8), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("owner_node", String(36), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    _created(),
    Column("sent_at", UTCDateTime(), nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "tenant_id", "created_at"),
    Index(None, "created_at"),
)

# --- Volt MX dialect ---------------------------------------------------------------------------

service_registry = Table(
    "service_registry",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("base_url", String(2048), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

# the stable numeric job id the Volt MX dialect shows for a plan; rows outlive their plan
# (plan_id becomes NULL) so that a deleted job's number is never given to another
voltmx_jobs = Table(
    "voltmx_jobs",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("job_id", Integer, primary_key=True, autoincrement=False),
    Column(
        "plan_id",
        String(36),
        ForeignKey("plans.id", ondelete="SET NULL"),
        nullable=True,
        unique=True,
    ),
    _created(),
)

# failed logins counted per key ("user:<name>", "addr:<client address>") in a fixed window
# that starts with the first failure; kept here, not in a process, so a restart or another node
# sees the same count. Times are seconds since the epoch (wall clock, comparable across nodes).
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started", Float, nullable=False, index=True),
)

# --- audit log ----------------------------------------------------------------------------------

# who did what, written in the transaction of the change (or, for refusals, just after). No
# foreign keys: a record outlives its tenant, actor and target, and names them as they were.
audit_records = Table(
    "audit_records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("tenant_id", String(36), nullable=True),  # NULL: a sign-in naming no known tenant
    Column("tenant_name", String(64), nullable=True),
    Column("actor_id", String(36), nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("api_key_id", String(64), nullable=True),
    Column("auth_method", String(24), nullable=True),
    Column("source", String(100), nullable=True),
    Column("user_agent", String(500), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("target_path", String(700), nullable=True),
    Column("outcome", String(8), nullable=False),  # done | refused | failed
    Column("status", Integer, nullable=True),
    Column("message", Text, nullable=True),
    Column("changes", JSON, nullable=True),
    Column("request_id", String(128), nullable=True),  # the request's X-Request-ID
    Index(None, "tenant_id", "time"),
    Index(None, "action"),
    Index(None, "time"),
    Index(None, "request_id"),
)
