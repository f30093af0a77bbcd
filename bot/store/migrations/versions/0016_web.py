"""The web console: single-use sign-in links, server-side sessions, the generated cookie secret.

Revision ID: 0016_web
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_web"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _community(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["community_id"], ["communities.id"], name=f"fk_{table}_community_id_communities"
    )


def upgrade() -> None:
    op.create_table(
        "web_sign_in_links",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("curator", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When, nullable=True),
        _community("web_sign_in_links"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sign_in_links"),
        sa.UniqueConstraint("token_hash", name="uq_web_sign_in_links_token_hash"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("curator", sa.String(255), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen_at", When, nullable=False),
        sa.Column("revoked_at", When, nullable=True),
        _community("web_sessions"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("session_hash", name="uq_web_sessions_session_hash"),
    )
    op.create_index("ix_web_sessions_community_curator", "web_sessions", ["community_id", "curator"])
    op.create_table(
        "web_secrets",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        _community("web_secrets"),
        sa.PrimaryKeyConstraint("id", name="pk_web_secrets"),
        sa.UniqueConstraint("community_id", name="uq_web_secrets_community_id"),
    )


def downgrade() -> None:
    op.drop_table("web_secrets")
    op.drop_index("ix_web_sessions_community_curator", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_sign_in_links")
