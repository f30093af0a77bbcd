"""Consent guard: each account's own word on consent (own_consent), the private confirmation of a
link (link_codes.confirm_until, decision, decided_at), the consent audit (consent_events), and an
index for the per-sender budget of member requests.

Existing opt-outs are kept as the account's own (fail closed: an "out" spread to a linked account
before this revision stays until that account opts in itself).

Revision ID: 0008_consent_guard
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_consent_guard"
down_revision = "0001"
branch_labels = None
depends_on = "0006_trust"  # link_codes and member_requests come from there

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("own_consent", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("own_consent_source", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE accounts SET own_consent = consent, own_consent_source = consent_source "
        "WHERE consent IS NOT NULL"
    )
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_until", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("decision", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("decided_at", _WHEN, nullable=True))
    op.create_table(
        "consent_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("community_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("asked_by", _ID, nullable=True),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("request_id", _ID, nullable=True),
        sa.Column("at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_consent_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["asked_by"], ["accounts.id"], name=op.f("fk_consent_events_asked_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_consent_events_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["member_requests.id"], name=op.f("fk_consent_events_request_id_member_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_events_account_id"), ["account_id"], unique=False)
    op.create_index(
        "ix_member_requests_account_received", "member_requests", ["account_id", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_member_requests_account_received", table_name="member_requests")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_events_account_id"))
    op.drop_table("consent_events")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decision")
        batch_op.drop_column("confirm_until")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("own_consent_source")
        batch_op.drop_column("own_consent")
