"""backfills: runs opened for a plan window's past fire times (issue #15 item 1)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("plan_path", sa.String(length=700), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_active", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("fires", sa.JSON(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_backfills_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfills")),
    )
    op.create_index(
        op.f("ix_backfills_tenant_id_created_at"), "backfills", ["tenant_id", "created_at"]
    )
    op.create_index(op.f("ix_backfills_state"), "backfills", ["state"])
    op.create_table(
        "backfill_runs",
        sa.Column("plan_run_id", sa.String(length=36), nullable=False),
        sa.Column("backfill_id", sa.String(length=36), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["backfills.id"],
            name=op.f("fk_backfill_runs_backfill_id_backfills"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_run_id", name=op.f("pk_backfill_runs")),
    )
    op.create_index(op.f("ix_backfill_runs_backfill_id"), "backfill_runs", ["backfill_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_backfill_runs_backfill_id"), table_name="backfill_runs")
    op.drop_table("backfill_runs")
    op.drop_index(op.f("ix_backfills_state"), table_name="backfills")
    op.drop_index(op.f("ix_backfills_tenant_id_created_at"), table_name="backfills")
    op.drop_table("backfills")
