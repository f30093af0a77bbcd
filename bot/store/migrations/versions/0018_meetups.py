"""Meet-ups curators schedule at a conference, announced through the series' publications.

Revision ID: 0018_meetups
Revises: 0001
Depends on: 0014_conferences
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_meetups"
down_revision = "0001"
branch_labels = None
depends_on = "0014_conferences"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_meetups_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "meetups",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("conference_id", Id, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("announce_at", When, nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("ribbon", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("removed_by", sa.String(255), nullable=True),
        sa.Column("removed_at", When, nullable=True),
        _fk("community_id", "communities"),
        _fk("conference_id", "conferences"),
        sa.PrimaryKeyConstraint("id", name="pk_meetups"),
    )
    op.create_index("ix_meetups_community_announce", "meetups", ["community_id", "announce_at"])


def downgrade() -> None:
    op.drop_index("ix_meetups_community_announce", table_name="meetups")
    op.drop_table("meetups")
