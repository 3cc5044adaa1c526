"""audit records carry the request id (X-Request-ID) of the request that caused them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=128), nullable=True))
    op.create_index(op.f("ix_audit_records_request_id"), "audit_records", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_records_request_id"), table_name="audit_records")
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("request_id")
