"""Original posts: what curators write for the central account, and the record of every decision
about each. They are published through the series' publications (``original:<id>``).

Revision ID: 0017_originals
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_originals"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "original_posts",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("platforms", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", When, nullable=True),
        sa.Column("slot", When, nullable=True),
        sa.Column("written_by", sa.String(255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        _fk("original_posts", "community_id", "communities"),
        sa.PrimaryKeyConstraint("id", name="pk_original_posts"),
    )
    op.create_index(
        "ix_original_posts_community_state_due", "original_posts", ["community_id", "state", "due_at"]
    )
    op.create_table(
        "original_decisions",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("original_id", Id, nullable=False),
        sa.Column("curator", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", When, nullable=False),
        _fk("original_decisions", "community_id", "communities"),
        _fk("original_decisions", "original_id", "original_posts"),
        sa.PrimaryKeyConstraint("id", name="pk_original_decisions"),
    )
    op.create_index("ix_original_decisions_original_id", "original_decisions", ["original_id"])


def downgrade() -> None:
    op.drop_index("ix_original_decisions_original_id", table_name="original_decisions")
    op.drop_table("original_decisions")
    op.drop_index("ix_original_posts_community_state_due", table_name="original_posts")
    op.drop_table("original_posts")
