"""The schema of the community's gatherings: conferences (with their champions) and scheduled
chats (with their slots and the answers they drew). Part of ``bot.store.models``' metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, Id, UTCDateTime


class Conference(Base):
    """A conference the community follows: posts with its tag, in its window (local dates in
    its time zone, both days included), are queued with a conference badge."""

    __tablename__ = "conferences"
    __table_args__ = (UniqueConstraint("community_id", "tag"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(String(200))
    tag: Mapped[str] = mapped_column(String(100))  # normalised, without '#'
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    settings: Mapped[str] = mapped_column(Text, default="{}")  # JSON, see bot.conference.model
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(255))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: in force


class ConferenceChampion(Base):
    """A member a curator named champion of one conference: she may approve or reject that
    conference's candidates, and only during its window."""

    __tablename__ = "conference_champions"
    __table_args__ = (UniqueConstraint("conference_id", "account_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    named_by: Mapped[str] = mapped_column(String(255))
    named_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(255))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: still champion


class Chat(Base):
    """A scheduled community chat: an hour around questions the host posts at minute offsets."""

    __tablename__ = "chats"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    topic: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(100))  # normalised, without '#'
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    timezone: Mapped[str] = mapped_column(String(64))  # how the announcements say the time
    languages: Mapped[str] = mapped_column(String(64))  # space-separated, the first one leads
    # JSON list of {"offset": minutes, "text": {language: question}}, in order (Q1, Q2 …)
    questions: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(255))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChatSlot(Base):
    """One thing a chat posts (an announcement, a question) and when: published once per
    platform through the series' publications, under the series name ``chat:<id>:<key>``."""

    __tablename__ = "chat_slots"
    __table_args__ = (
        UniqueConstraint("chat_id", "key"),
        Index("ix_chat_slots_community_due", "community_id", "due_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    key: Mapped[str] = mapped_column(String(32))  # announce-day | announce-hour | q1 … | recap
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChatAnswer(Base):
    """A member's post answering one of a chat's questions, kept once per post."""

    __tablename__ = "chat_answers"
    __table_args__ = (UniqueConstraint("chat_id", "post_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    question: Mapped[int] = mapped_column(Integer)  # 1-based
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Meetup(Base):
    """A meet-up at a conference that curators schedule: the account announces it (place, time,
    how to find the ribbon) once per platform at ``announce_at``, as series ``meetup:<id>``."""

    __tablename__ = "meetups"
    __table_args__ = (Index("ix_meetups_community_announce", "community_id", "announce_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the meet-up starts
    announce_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(Text)
    ribbon: Mapped[str] = mapped_column(Text)  # how to find the ribbon (the champions wear it)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(255))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: still on
