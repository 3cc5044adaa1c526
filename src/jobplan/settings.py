"""Runtime settings, read once from ``JOBPLAN_*`` environment variables and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything a jobplan process needs to know about its environment.

    Built once by the entry point (CLI or test) and handed to ``create_app`` and the engine;
    nothing reads the environment at import time.
    """

    model_config = SettingsConfigDict(env_prefix="JOBPLAN_", extra="ignore")

    home: Path = Field(default=Path("var"), description="Data folder (database, keys, logs).")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite at <home>/jobplan.db.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: str | None = Field(
        default=None,
        description="JWT signing key; default is a key generated into <home>/secret.key.",
    )
    secrets_key: str | None = Field(
        default=None,
        description="Key that encrypts secret values at rest: base64 of 32 bytes (several, "
        "separated by commas, while rotating: the first encrypts); default is a key "
        "generated into <home>/secrets.key.",
    )
    admin_user: str | None = None
    admin_password: str | None = None
    admin_tenant: str = "default"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=300)
    console_session_ttl_seconds: int = Field(default=12 * 3600, ge=300, le=30 * 86400)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    argon2_memory_kib: int = Field(
        default=19456, ge=1024, description="argon2id memory cost (OWASP minimum: 19 MiB)."
    )
    argon2_time_cost: int = Field(default=2, ge=1, description="argon2id iterations.")
    argon2_parallelism: int = Field(default=1, ge=1, le=16, description="argon2id lanes.")
    engine_enabled: bool = Field(
        default=True, description="Run the scheduler and executors in this process."
    )
    node_name: str | None = Field(default=None, description="Name of this node (host name).")
    lease_seconds: float = Field(default=30.0, ge=1, description="Job-run lease length.")
    engine_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="Longest the scheduler and the dispatcher sleep before looking again "
        "for due work (changes made on this node wake them at once).",
    )
    loop_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        description="/readyz calls an engine loop stale (503) when its last pass is older "
        "than three of its intervals or this, whichever is longer; and the writer when a "
        "batch has been writing for longer than this.",
    )
    misfire_threshold_seconds: float = Field(
        default=60.0, ge=0, description="A fire later than this counts as missed."
    )
    max_concurrent_jobs: int = Field(default=64, ge=1, description="Executions per node.")
    unknown_agents: Literal["server", "wait"] = Field(
        default="server",
        description="A command or file job naming an agent that is not registered: `server` "
        "runs it on the server (as before agents existed; Ikasan plans name agents of their "
        "own), `wait` makes it wait until that agent is registered and claims it.",
    )
    agent_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A job run waiting this long for an agent when no agent that could take "
        "it is online is flagged `agent_offline` and its plan's on_overdue recipients told.",
    )
    output_limit_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Output kept per job-run attempt."
    )
    kill_grace_seconds: float = Field(
        default=5.0, ge=0, description="SIGTERM to SIGKILL delay when stopping commands."
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    transfer_dir: Path | None = Field(
        default=None,
        description="Where export and import bundles are kept; default <home>/transfers. "
        "Nodes sharing a PostgreSQL database must share this folder.",
    )
    transfer_workers: int = Field(
        default=1, ge=0, le=16, description="Export/import jobs this node runs at once."
    )
    export_job_limit: int = Field(
        default=1, ge=1, description="Unfinished export jobs per tenant (tenant setting wins)."
    )
    import_job_limit: int = Field(
        default=1, ge=1, description="Unfinished import jobs per tenant (tenant setting wins)."
    )
    max_package_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, description="Largest bundle exported or imported."
    )
    import_memory_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=16 * 1024 * 1024,
        description="Memory one import job may build from its bundle (above what was in use "
        "before it); a bundle that needs more is refused before it is inflated or parsed.",
    )
    transfer_timeout_seconds: float = Field(
        default=900.0, ge=1, description="An export or import job not done by then is closed."
    )
    transfer_retention_seconds: float = Field(
        default=86400.0, ge=1, description="How long finished jobs and their files are kept."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for email notifications; none: emails fail."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = Field(default="jobplan@localhost", description="Sender of notifications.")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=False, description="Upgrade to TLS with STARTTLS.")
    notification_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Time allowed for one webhook call or email."
    )
    notification_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Tries per message before it is marked failed."
    )
    notification_retry_seconds: float = Field(
        default=15.0, ge=0, description="Delay before the first retry; doubles each time."
    )
    notification_retention_days: int = Field(
        default=30, ge=1, description="How long sent and failed messages are listed."
    )
    audit_retention_days: int = Field(
        default=365, ge=1, description="How long audit records are kept (then pruned)."
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics to anyone; otherwise it needs the 'metrics:read' scope.",
    )
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "INFO"

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the configured one or SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'jobplan.db'}"

    @property
    def effective_transfer_dir(self) -> Path:
        """The folder export and import bundles are kept in."""
        return (self.transfer_dir or self.home / "transfers").expanduser().resolve()

    def ensure_home(self) -> Path:
        """Create the data folder (private to the owner) and return it."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.home
