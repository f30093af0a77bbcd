"""Directory and reach report: organisation marks and follows on accounts, engagement on posts,
the central accounts, daily follower snapshots, and the indexes the report reads through.

Revision ID: 0005_report
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_report"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("organisation_source", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("follows_central", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("follows_checked_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("posts", schema=None) as batch_op:
        for name in ("likes", "reposts", "replies", "quotes", "engagement"):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("engagement_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "central_accounts",
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_account_id", sa.String(length=255), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_central_accounts_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("community_id", "platform", name=op.f("pk_central_accounts")),
    )
    op.create_table(
        "follower_snapshots",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_follower_snapshots_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follower_snapshots")),
        sa.UniqueConstraint(
            "community_id", "platform", "day", name=op.f("uq_follower_snapshots_community_id_platform_day")
        ),
    )
    op.create_index("ix_posts_account_created", "posts", ["account_id", "created_at"], unique=False)
    op.create_index("ix_posts_community_engagement", "posts", ["community_id", "engagement"], unique=False)
    op.create_index(
        "ix_candidates_community_created",
        "candidates",
        ["community_id", "created_at", "state", "decided_at"],
        unique=False,
    )
    op.create_index(
        "ix_amplifications_community_completed",
        "amplifications",
        ["community_id", "completed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_amplifications_community_completed", table_name="amplifications")
    op.drop_index("ix_candidates_community_created", table_name="candidates")
    op.drop_index("ix_posts_community_engagement", table_name="posts")
    op.drop_index("ix_posts_account_created", table_name="posts")
    op.drop_table("follower_snapshots")
    op.drop_table("central_accounts")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        for name in ("engagement_at", "engagement", "quotes", "replies", "reposts", "likes"):
            batch_op.drop_column(name)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("follows_checked_at")
        batch_op.drop_column("follows_central")
        batch_op.drop_column("organisation_source")
        batch_op.drop_column("organisation")
