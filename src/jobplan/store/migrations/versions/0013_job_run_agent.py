"""job runs carry the agent their job names (issue #14): routed to that agent (or any agent
with a label), never claimed by a server node while it waits for it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("agent", sa.String(length=108), nullable=True))
    op.create_index(
        "ix_job_runs_agent_claim",
        "job_runs",
        ["tenant_id", "agent", "status", "wake_at"],
        sqlite_where=sa.text("agent IS NOT NULL"),
        postgresql_where=sa.text("agent IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_job_runs_agent_claim", table_name="job_runs")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("agent")
