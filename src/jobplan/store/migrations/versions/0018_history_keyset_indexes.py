"""history keyset indexes: plan runs and job runs of a tenant, newest first

Listing a tenant's runs or job runs newest first (``GET /api/v1/runs`` and
``/api/v1/job-runs`` without a plan or run) sorted the whole history before; with these
indexes a keyset page reads only its own rows.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_plan_runs_tenant_id_created_at", "plan_runs", ["tenant_id", "created_at"])
    op.create_index("ix_job_runs_tenant_id_created_at", "job_runs", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_tenant_id_created_at", table_name="job_runs")
    op.drop_index("ix_plan_runs_tenant_id_created_at", table_name="plan_runs")
