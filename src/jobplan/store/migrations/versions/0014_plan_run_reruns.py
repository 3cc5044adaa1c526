"""plan_run_reruns: each re-run of a finished or stalled plan run (issue #15 item 2)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_run_reruns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("plan_run_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("previous_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_reason", sa.Text(), nullable=True),
        sa.Column("jobs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_run_id"],
            ["plan_runs.id"],
            name=op.f("fk_plan_run_reruns_plan_run_id_plan_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_run_reruns")),
        sa.UniqueConstraint(
            "plan_run_id", "number", name=op.f("uq_plan_run_reruns_plan_run_id_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("plan_run_reruns")
