"""audit log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=True),
        sa.Column("tenant_name", sa.String(length=64), nullable=True),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("api_key_id", sa.String(length=64), nullable=True),
        sa.Column("auth_method", sa.String(length=24), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("target_path", sa.String(length=700), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
    )
    op.create_index(op.f("ix_audit_records_tenant_id_time"), "audit_records", ["tenant_id", "time"])
    op.create_index(op.f("ix_audit_records_action"), "audit_records", ["action"])
    op.create_index(op.f("ix_audit_records_time"), "audit_records", ["time"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_records_time"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_action"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_tenant_id_time"), table_name="audit_records")
    op.drop_table("audit_records")
