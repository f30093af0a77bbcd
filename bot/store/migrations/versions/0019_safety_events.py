"""The audit of the curators' safety steps: freeze switch flips, member freezes, blocks.

Revision ID: 0019_safety_events
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_safety_events"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "safety_events",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("account_id", Id, nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_safety_events_community_id_communities"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_safety_events_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_safety_events"),
    )
    op.create_index("ix_safety_events_community_at", "safety_events", ["community_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_safety_events_community_at", table_name="safety_events")
    op.drop_table("safety_events")
