"""Platform sessions: a login kept between runs (the Bluesky adapter stores its session here).

Revision ID: 0003_bluesky
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_bluesky"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "platform_sessions",
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("session", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_platform_sessions_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("community_id", "platform", "account", name=op.f("pk_platform_sessions")),
    )


def downgrade() -> None:
    op.drop_table("platform_sessions")
