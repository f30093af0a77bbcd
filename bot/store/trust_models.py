"""The trust tables: members' consent requests, account links, runtime blocks, undos, curator
alerts, deletion checks and watch health. Part of ``bot.store.models``' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, Id, UTCDateTime, table


class MemberRequest(Base):
    """A member's opt-out, opt-in or link request, kept once per platform message (a replayed
    mention is not handled twice) with the confirmation owed to them until it is delivered."""

    __tablename__ = "member_requests"
    __table_args__ = (UniqueConstraint("community_id", "platform", "request_ref"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    platform: Mapped[str] = mapped_column(String(16))
    request_ref: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))  # optout | optin | link
    argument: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_state: Mapped[str] = mapped_column(
        String(16)
    )  # pending | sent | unsupported | failed | vetoed | none
    reply_attempts: Mapped[int] = mapped_column(Integer, default=0)
    reply_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_error: Mapped[str | None] = mapped_column(Text)


class LinkCode(Base):
    """A one-time code given in private to one account (A), entered from another (B: "this one is
    me too"); the accounts are linked only when A confirms in private (``decision`` "linked")."""

    __tablename__ = "link_codes"
    __table_args__ = (UniqueConstraint("community_id", "code"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    code: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    confirm_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # A's time to confirm
    decision: Mapped[str | None] = mapped_column(String(16))  # linked | refused | replaced
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsentEvent(Base):
    """Append-only audit of every consent change and link step: whose consent (``account_id``),
    which account asked (``asked_by``, None for a curator or the system), who by role
    (``by``: "member", "curator:NAME", "profile marker", "system"), what and when."""

    __tablename__ = "consent_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    by: Mapped[str] = mapped_column(String(255))
    # optout | optin | code_issued | link_asked | linked | link_refused | adopted
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("member_requests.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Block(Base):
    """A runtime blocklist entry (added by a curator), merged with the config's blocklist."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("community_id", "kind", "value"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(16))  # account | domain | did | keyword
    value: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(255))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: in force


class Undo(Base):
    """Taking back one amplification (opt-out, deleted original, freeze, block), retried until the
    platform confirms; leased like candidates so two workers never both work one."""

    __tablename__ = "undos"
    __table_args__ = (
        UniqueConstraint("amplification_id"),
        Index("ix_undos_community_state", "community_id", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    amplification_id: Mapped[int] = mapped_column(ForeignKey("amplifications.id"))
    reason: Mapped[str] = mapped_column(String(32))  # optout | deleted | frozen | blocked
    requested_by: Mapped[str] = mapped_column(String(255))  # "system", "member", a curator's name
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CuratorAlert(Base):
    """A message to the curators' chat about work that failed for good (an undo a platform
    refuses, a member request that could not be handled…). Written once under its ``key``;
    the console sends it at most once: "intent" before the send, "sent" after, "unknown" when a
    send may or may not have gone out, "retry" when the platform surely refused it."""

    __tablename__ = "curator_alerts"
    __table_args__ = (UniqueConstraint("community_id", "key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    key: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivery: Mapped[str] = mapped_column(String(16))  # pending | intent | sent | unknown | retry
    message_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PostCheck(Base):
    """When an amplified post was last looked up on its platform, and when it was found gone."""

    __tablename__ = "post_checks"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WatchHealth(Base):
    """How each platform's watch is doing, written by the watch loops, read by ``bot health``."""

    __tablename__ = "watch_health"
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the platform answered
    last_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # something new came
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(64))


# The per-sender budget for member requests counts one account's recent requests.
Index(
    "ix_member_requests_account_received",
    table(MemberRequest).c.account_id,
    table(MemberRequest).c.received_at,
)


class SafetyEvent(Base):
    """Append-only audit of the curators' safety steps, which otherwise leave only the state they
    set: the freeze switch flipped, a member frozen or unfrozen, a block added or lifted. ``kind``
    is what was acted on (switch | member | block), ``action`` what was done (freeze | unfreeze |
    block | unblock), ``by`` the curator; ``account_id`` the member's account for a member freeze,
    ``subject`` what a block names ("account:maria@example.org"), ``detail`` its reason."""

    __tablename__ = "safety_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    subject: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


Index("ix_safety_events_community_at", table(SafetyEvent).c.community_id, table(SafetyEvent).c.at)
