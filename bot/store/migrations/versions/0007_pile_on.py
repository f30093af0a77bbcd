"""Pile-on: how many accounts that don't follow a post's author replied to it, and when the
platform was last asked (the card's stranger_replies flag).

Revision ID: 0007_pile_on
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_pile_on"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stranger_replies", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("replies_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("replies_checked_at")
        batch_op.drop_column("stranger_replies")
