"""notification outbox, and when a plan run becomes overdue

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("plan_path", sa.String(length=700), nullable=False),
        sa.Column("plan_run_id", sa.String(length=36), nullable=True),
        sa.Column("job_run_id", sa.String(length=36), nullable=True),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=2048), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_node", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_notifications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_status_next_attempt_at"),
        "notifications",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_notifications_tenant_id_created_at"), "notifications", ["tenant_id", "created_at"]
    )
    op.create_index(op.f("ix_notifications_created_at"), "notifications", ["created_at"])
    op.add_column("plan_runs", sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_plan_runs_overdue_at",
        "plan_runs",
        ["overdue_at"],
        sqlite_where=sa.text("overdue_at IS NOT NULL"),
        postgresql_where=sa.text("overdue_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_plan_runs_overdue_at", table_name="plan_runs")
    with op.batch_alter_table("plan_runs") as batch:
        batch.drop_column("overdue_at")
    op.drop_index(op.f("ix_notifications_created_at"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_tenant_id_created_at"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_status_next_attempt_at"), table_name="notifications")
    op.drop_table("notifications")
