"""Automated posts: what made a post automated when its author is not a bot account (a Telegram
message sent through an inline bot, an automatic forward from a linked channel), for the card's
bot flag and ``curation.skip_bots``.

Revision ID: 0013_robust
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_robust"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("automated", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("automated")
