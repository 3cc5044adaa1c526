"""nodes record their host, process id, version and loops

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nodes", sa.Column("host", sa.String(length=255), nullable=True))
    op.add_column("nodes", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column("nodes", sa.Column("version", sa.String(length=64), nullable=True))
    op.add_column("nodes", sa.Column("loops", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        for column in ("loops", "version", "pid", "host"):
            batch.drop_column(column)
