"""Curator alerts: one message in the curators' chat for each piece of work that failed for good
(an undo a platform refuses, a member request that could not be handled, a publication refused),
written once under its key and sent at most once.

Revision ID: 0009_veto
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_veto"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "curator_alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_curator_alerts_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curator_alerts")),
        sa.UniqueConstraint("community_id", "key", name=op.f("uq_curator_alerts_community_id_key")),
    )


def downgrade() -> None:
    op.drop_table("curator_alerts")
