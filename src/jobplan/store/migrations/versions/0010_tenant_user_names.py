"""user names unique per tenant, not server-wide

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

A tenant admin creating "bob" learnt from the 409 whether another tenant had a "bob". Names
are now unique among a tenant's members (``memberships.username``); ``users.username`` is no
longer unique. Existing accounts keep their (server-wide unique) names and are marked
``global_name``: they may still sign in without naming their tenant.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE memberships SET username = "
        "(SELECT users.username FROM users WHERE users.id = memberships.user_id)"
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.alter_column("username", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_memberships_tenant_id_username"), ["tenant_id", "username"]
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        # every account so far has a server-wide unique name
        batch_op.add_column(
            sa.Column("global_name", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.drop_constraint(batch_op.f("uq_users_username"), type_="unique")
        batch_op.create_index(batch_op.f("ix_users_username"), ["username"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("global_name", existing_type=sa.Boolean(), server_default=None)


def downgrade() -> None:
    # fails if two tenants now have members of the same name (one of them must be renamed)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_username"))
        batch_op.create_unique_constraint(batch_op.f("uq_users_username"), ["username"])
        batch_op.drop_column("global_name")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_memberships_tenant_id_username"), type_="unique")
        batch_op.drop_column("username")
