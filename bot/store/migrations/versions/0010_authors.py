"""Authors as their profiles say: the platform signals that hold discovery back (accounts.withheld),
the post a quote post carries and its author (posts.quote_of, posts.quoted_account_id), and a
nomination from an account that has never taken part (candidates.nominated_by_stranger).

Revision ID: 0010_authors
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_authors"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withheld", sa.String(length=128), nullable=False, server_default=""))
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quote_of", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("quoted_account_id", _ID, nullable=True))
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nominated_by_stranger", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("nominated_by_stranger")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("quoted_account_id")
        batch_op.drop_column("quote_of")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("withheld")
