"""Trust: linked accounts and per-member freeze on accounts; member requests, link codes, runtime
blocks, undos, deletion checks and watch health.

Revision ID: 0006_trust
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_trust"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def _community(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["community_id"], ["communities.id"], name=op.f(f"fk_{table}_community_id_communities")
    )


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("frozen_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("frozen_by", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_person_id"), ["person_id"], unique=False)

    op.create_table(
        "member_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("request_ref", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("argument", sa.String(length=64), nullable=True),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", _WHEN, nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("reply_state", sa.String(length=16), nullable=False),
        sa.Column("reply_attempts", sa.Integer(), nullable=False),
        sa.Column("reply_next_at", _WHEN, nullable=True),
        sa.Column("replied_at", _WHEN, nullable=True),
        sa.Column("reply_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_member_requests_account_id_accounts")
        ),
        _community("member_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_requests")),
        sa.UniqueConstraint(
            "community_id",
            "platform",
            "request_ref",
            name=op.f("uq_member_requests_community_id_platform_request_ref"),
        ),
    )
    op.create_table(
        "link_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.Column("used_by", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_link_codes_account_id_accounts")
        ),
        _community("link_codes"),
        sa.ForeignKeyConstraint(["used_by"], ["accounts.id"], name=op.f("fk_link_codes_used_by_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("community_id", "code", name=op.f("uq_link_codes_community_id_code")),
    )
    op.create_table(
        "blocks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", _WHEN, nullable=False),
        sa.Column("removed_by", sa.String(length=255), nullable=True),
        sa.Column("removed_at", _WHEN, nullable=True),
        _community("blocks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("community_id", "kind", "value", name=op.f("uq_blocks_community_id_kind_value")),
    )
    op.create_table(
        "undos",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("amplification_id", _ID, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", _WHEN, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _WHEN, nullable=True),
        sa.Column("done_at", _WHEN, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["amplification_id"], ["amplifications.id"], name=op.f("fk_undos_amplification_id_amplifications")
        ),
        _community("undos"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_undos")),
        sa.UniqueConstraint("amplification_id", name=op.f("uq_undos_amplification_id")),
    )
    op.create_index(
        "ix_undos_community_state", "undos", ["community_id", "state", "next_attempt_at"], unique=False
    )
    op.create_table(
        "post_checks",
        sa.Column("post_id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("checked_at", _WHEN, nullable=False),
        sa.Column("gone_at", _WHEN, nullable=True),
        _community("post_checks"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_post_checks_post_id_posts")),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_checks")),
    )
    op.create_table(
        "watch_health",
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("last_ok_at", _WHEN, nullable=True),
        sa.Column("last_progress_at", _WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", _WHEN, nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=True),
        _community("watch_health"),
        sa.PrimaryKeyConstraint("community_id", "platform", name=op.f("pk_watch_health")),
    )
    op.create_index(
        "ix_amplifications_community_state", "amplifications", ["community_id", "state"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_amplifications_community_state", table_name="amplifications")
    op.drop_table("watch_health")
    op.drop_table("post_checks")
    op.drop_index("ix_undos_community_state", table_name="undos")
    op.drop_table("undos")
    op.drop_table("blocks")
    op.drop_table("link_codes")
    op.drop_table("member_requests")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_person_id"))
        batch_op.drop_column("frozen_by")
        batch_op.drop_column("frozen_at")
        batch_op.drop_column("person_id")
