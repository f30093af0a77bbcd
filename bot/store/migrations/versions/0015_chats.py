"""Scheduled community chats: the chat, what it posts when (slots), and the answers it drew.

Revision ID: 0015_chats
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_chats"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.Column("starts_at", When, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("languages", sa.String(64), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("removed_by", sa.String(255), nullable=True),
        sa.Column("removed_at", When, nullable=True),
        _fk("chats", "community_id", "communities"),
        sa.PrimaryKeyConstraint("id", name="pk_chats"),
    )
    op.create_table(
        "chat_slots",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("chat_id", Id, nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("due_at", When, nullable=False),
        _fk("chat_slots", "community_id", "communities"),
        _fk("chat_slots", "chat_id", "chats"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_slots"),
        sa.UniqueConstraint("chat_id", "key", name="uq_chat_slots_chat_id_key"),
    )
    op.create_index("ix_chat_slots_community_due", "chat_slots", ["community_id", "due_at"])
    op.create_table(
        "chat_answers",
        sa.Column("id", Id, nullable=False),
        sa.Column("community_id", Id, nullable=False),
        sa.Column("chat_id", Id, nullable=False),
        sa.Column("question", sa.Integer(), nullable=False),
        sa.Column("post_id", Id, nullable=False),
        sa.Column("found_at", When, nullable=False),
        _fk("chat_answers", "community_id", "communities"),
        _fk("chat_answers", "chat_id", "chats"),
        _fk("chat_answers", "post_id", "posts"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_answers"),
        sa.UniqueConstraint("chat_id", "post_id", name="uq_chat_answers_chat_id_post_id"),
    )


def downgrade() -> None:
    op.drop_table("chat_answers")
    op.drop_index("ix_chat_slots_community_due", table_name="chat_slots")
    op.drop_table("chat_slots")
    op.drop_table("chats")
