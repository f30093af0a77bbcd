"""The schema of original posts: what curators write for the central account (a post or a
thread), and the append-only record of every decision about each. Part of ``bot.store.models``'
metadata. Publishing goes through the series' publications, under the series name
``original:<id>``, so it happens once per platform like every slot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, Id, UTCDateTime


class OriginalPost(Base):
    """A post or thread a curator wrote. ``state``: pending (waiting for approvals), approved,
    publishing (its publications are being written; nothing changes it any more), published,
    rejected, cancelled. Every change is a compare-and-set on ``version``."""

    __tablename__ = "original_posts"
    __table_args__ = (Index("ix_original_posts_community_state_due", "community_id", "state", "due_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    text: Mapped[str] = mapped_column(Text)
    platforms: Mapped[str] = mapped_column(String(64))  # space-separated; empty: every enabled one
    state: Mapped[str] = mapped_column(String(16))
    approvals: Mapped[int] = mapped_column(Integer, default=0)  # since the text was last written
    version: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: not scheduled yet
    # The publications' slot, fixed when publishing begins (a late start keeps its own time).
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime())
    written_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OriginalDecision(Base):
    """Append-only audit: who did what to which original post, when and why (write, edit,
    approve, reject, schedule, cancel, publish)."""

    __tablename__ = "original_decisions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    original_id: Mapped[int] = mapped_column(ForeignKey("original_posts.id"), index=True)
    curator: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
