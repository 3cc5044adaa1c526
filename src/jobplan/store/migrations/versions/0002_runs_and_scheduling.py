"""runs and scheduling

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_table(
        "plan_stats",
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
        sa.Column("total_duration_seconds", sa.Float(), nullable=False),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plan_stats")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_tenant_id_name_raised_at"),
            ["tenant_id", "name", "raised_at"],
            unique=False,
        )

    op.create_table(
        "plan_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("plan_path", sa.String(length=700), nullable=False),
        sa.Column("plan_version_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("history", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_plan_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_runs")),
    )
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_runs_purge_after"), ["purge_after"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_plan_runs_plan_id_status"), ["plan_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plan_runs_status_deadline_at"), ["status", "deadline_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plan_runs_tenant_id_plan_id_created_at"),
            ["tenant_id", "plan_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("plan_run_id", sa.String(length=36), nullable=False),
        sa.Column("job_name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_node", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_run_id"],
            ["plan_runs.id"],
            name=op.f("fk_job_runs_plan_run_id_plan_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint(
            "plan_run_id", "job_name", name=op.f("uq_job_runs_plan_run_id_job_name")
        ),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_runs_status_wake_at"), ["status", "wake_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_job_runs_tenant_id_status"), ["tenant_id", "status"], unique=False
        )

    op.create_table(
        "job_run_output",
        sa.Column("job_run_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_job_run_output_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_run_id", "attempt", "seq", name=op.f("pk_job_run_output")),
    )
    op.create_table(
        "lock_holders",
        sa.Column("job_run_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("lock_name", sa.String(length=100), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_lock_holders_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_run_id", name=op.f("pk_lock_holders")),
    )
    with op.batch_alter_table("lock_holders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lock_holders_tenant_id_lock_name"),
            ["tenant_id", "lock_name"],
            unique=False,
        )

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_fire_time", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_fire_time", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_jobs", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_plans_next_fire_time"), ["next_fire_time"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_next_fire_time"))
        batch_op.drop_column("disabled_jobs")
        batch_op.drop_column("last_fire_time")
        batch_op.drop_column("next_fire_time")

    with op.batch_alter_table("lock_holders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lock_holders_tenant_id_lock_name"))

    op.drop_table("lock_holders")
    op.drop_table("job_run_output")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_tenant_id_status"))
        batch_op.drop_index(batch_op.f("ix_job_runs_status_wake_at"))

    op.drop_table("job_runs")
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_runs_tenant_id_plan_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_plan_runs_status_deadline_at"))
        batch_op.drop_index(batch_op.f("ix_plan_runs_purge_after"))
        batch_op.drop_index(batch_op.f("ix_plan_runs_plan_id_status"))

    op.drop_table("plan_runs")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_tenant_id_name_raised_at"))

    op.drop_table("events")
    op.drop_table("plan_stats")
    op.drop_table("nodes")
