"""Conferences the community follows, and the champions curators name for each.

Revision ID: 0014_conferences
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_conferences"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conferences",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("removed_by", sa.String(255), nullable=True),
        sa.Column("removed_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_conferences_community_id_communities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conferences"),
        sa.UniqueConstraint("community_id", "tag", name="uq_conferences_community_id_tag"),
    )
    op.create_table(
        "conference_champions",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("conference_id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("named_by", sa.String(255), nullable=False),
        sa.Column("named_at", When, nullable=False),
        sa.Column("removed_by", sa.String(255), nullable=True),
        sa.Column("removed_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_conference_champions_community_id_communities"
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conferences.id"], name="fk_conference_champions_conference_id_conferences"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_conference_champions_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conference_champions"),
        sa.UniqueConstraint(
            "conference_id", "account_id", name="uq_conference_champions_conference_id_account_id"
        ),
    )


def downgrade() -> None:
    op.drop_table("conference_champions")
    op.drop_table("conferences")
