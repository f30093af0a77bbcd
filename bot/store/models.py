"""The database schema. Invariants that matter (a post stored once, an amplification made once,
a slot published once) are constraints here, not just habits of the code."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import NAMING as NAMING
from bot.store.base import Base as Base
from bot.store.base import Id as Id
from bot.store.base import UTCDateTime as UTCDateTime
from bot.store.base import table as table

# The trust and the gatherings' tables live in modules of their own, on the same metadata, and are
# named from here too, so ``models.Candidate`` and ``models.Undo`` read alike.
from bot.store.gatherings import Chat as Chat
from bot.store.gatherings import ChatAnswer as ChatAnswer
from bot.store.gatherings import ChatSlot as ChatSlot
from bot.store.gatherings import Conference as Conference
from bot.store.gatherings import ConferenceChampion as ConferenceChampion
from bot.store.gatherings import Meetup as Meetup
from bot.store.originals import OriginalDecision as OriginalDecision
from bot.store.originals import OriginalPost as OriginalPost
from bot.store.trust_models import Block as Block
from bot.store.trust_models import ConsentEvent as ConsentEvent
from bot.store.trust_models import CuratorAlert as CuratorAlert
from bot.store.trust_models import LinkCode as LinkCode
from bot.store.trust_models import MemberRequest as MemberRequest
from bot.store.trust_models import PostCheck as PostCheck
from bot.store.trust_models import SafetyEvent as SafetyEvent
from bot.store.trust_models import Undo as Undo
from bot.store.trust_models import WatchHealth as WatchHealth
from bot.store.web_models import WebSecret as WebSecret
from bot.store.web_models import WebSession as WebSession
from bot.store.web_models import WebSignInLink as WebSignInLink


class Community(Base):
    __tablename__ = "communities"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Account(Base):
    """A member (or any author) on one platform, as the community has seen them."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("community_id", "platform", "platform_account_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    platform: Mapped[str] = mapped_column(String(16))
    platform_account_id: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str | None] = mapped_column(Text)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    account_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    # consent: what holds for this account now, "out", "in" or None (unsaid): derived by the
    # consent registry from the own_consent of every account of the person (any "out" wins; then
    # any "in"), with consent_source "linked account" when another account's word decided it.
    consent: Mapped[str | None] = mapped_column(String(8))
    consent_source: Mapped[str | None] = mapped_column(String(64))
    # own_consent: what this account itself said (command, profile marker, a curator for it). Only
    # this account opting in clears its own "out"; linked accounts never do.
    own_consent: Mapped[str | None] = mapped_column(String(8))
    own_consent_source: Mapped[str | None] = mapped_column(String(64))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # A curator's word on what the account is (True: organisation, False: individual); None
    # leaves it to the config lists and the platform's bot/group flags. Source: "curator:NAME".
    organisation: Mapped[bool | None] = mapped_column(Boolean)
    organisation_source: Mapped[str | None] = mapped_column(String(64))
    follows_central: Mapped[bool | None] = mapped_column(Boolean)  # None: not known (yet)
    follows_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One person's accounts on several platforms share a person_id (the lowest account id among
    # them), so one opt-out covers all; None: not linked. Frozen: curators stopped amplifying them.
    person_id: Mapped[int | None] = mapped_column(Id, index=True)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    frozen_by: Mapped[str | None] = mapped_column(String(255))
    # The platform signals the profile last showed against being discovered (space-separated
    # names from bot.trust.discovery.SIGNALS): under consent opt-out they hold posts back until opt-in.
    withheld: Mapped[str] = mapped_column(String(128), default="", server_default="")


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("community_id", "platform", "platform_post_id"),
        Index("ix_posts_community_created", "community_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    platform: Mapped[str] = mapped_column(String(16))
    platform_post_id: Mapped[str] = mapped_column(String(512))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    url: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    hashtags: Mapped[str] = mapped_column(Text, default="")  # space-separated, normalised
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    is_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    is_boost: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_to: Mapped[str | None] = mapped_column(String(512))
    language: Mapped[str | None] = mapped_column(String(16))
    content_warning: Mapped[str | None] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(Text)
    # What made the post automated when its author is no bot account ("sent via @gamebot"); None: nothing
    automated: Mapped[str | None] = mapped_column(String(255))
    skip_reason: Mapped[str | None] = mapped_column(String(32))  # why it did not become a candidate
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # How the post was received, as its platform last said (None: not asked yet). Kept on the
    # row itself so the reach report sums them in the same pass that counts the posts.
    likes: Mapped[int | None] = mapped_column(Integer)
    reposts: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    quotes: Mapped[int | None] = mapped_column(Integer)
    engagement: Mapped[int | None] = mapped_column(Integer)  # the four added up: top posts by index
    engagement_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Replies from accounts that don't follow the author (a pile-on, flagged on the card), as the
    # platform last said; None: not asked yet, or the platform cannot tell.
    stranger_replies: Mapped[int | None] = mapped_column(Integer)
    replies_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A quote post: the quoted post's platform id, and its author's account (whose consent counts).
    quote_of: Mapped[str | None] = mapped_column(String(512))
    quoted_account_id: Mapped[int | None] = mapped_column(Id)
    # When the author last edited the post, as the platform said (None: never edited).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Candidate(Base):
    """A post waiting for, or past, a curator's decision."""

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("post_id"),
        Index("ix_candidates_community_state", "community_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    kind: Mapped[str] = mapped_column(String(16), default="post")  # post | opportunity
    reason: Mapped[str] = mapped_column(String(32))  # hashtag | nomination
    nominated_by: Mapped[str | None] = mapped_column(String(255))
    # The nominating account had never taken part (no tagged post, not a known member): a card flag.
    nominated_by_stranger: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    state: Mapped[str] = mapped_column(String(16))
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)  # compare-and-set on every change
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Decision(Base):
    """Append-only audit: who decided what about which candidate, when and why."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    curator: Mapped[str] = mapped_column(String(255))  # a curator's name, or "system"
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Card(Base):
    """A candidate's card in the curators' console, at most one per candidate.

    The row is written before the card is sent (``delivery`` "intent") and completed after, so
    a restart never sends a card twice: an intent whose send may have happened is "unknown"
    and left alone; one the platform refused outright is "retry".
    """

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("candidate_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    delivery: Mapped[str] = mapped_column(String(16))  # intent | sent | unknown | retry | gone
    state_shown: Mapped[str | None] = mapped_column(String(16))
    version_shown: Mapped[int | None] = mapped_column(Integer)
    text_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Switch(Base):
    """A community-wide switch every worker and the CLI read from the database; ``frozen`` is
    the curators' emergency stop of all amplification."""

    __tablename__ = "switches"
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Amplification(Base):
    """The intent row is written before the platform call and completed after it."""

    __tablename__ = "amplifications"
    __table_args__ = (UniqueConstraint("candidate_id", "platform", "action"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    platform: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # intent | done | failed | undone
    receipt_ref: Mapped[str | None] = mapped_column(Text)
    receipt_url: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class Cursor(Base):
    """Where each platform source stopped; advanced only with the posts it covers."""

    __tablename__ = "cursors"
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlatformSession(Base):
    """A platform login kept between runs (encrypted by the adapter), so a restart or a
    ``run --once`` reuses it instead of logging in again."""

    __tablename__ = "platform_sessions"
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    session: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Publication(Base):
    """One series slot on one platform: written before publishing, completed after."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("community_id", "series", "slot", "platform"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    series: Mapped[str] = mapped_column(String(64))
    slot: Mapped[datetime] = mapped_column(UTCDateTime())
    platform: Mapped[str] = mapped_column(String(16))
    # intent | done | failed | empty | skipped | withdrawing | withdrawn
    state: Mapped[str] = mapped_column(String(16))
    parts_total: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # The parts as composed when the intent was written (JSON list), so a resumed thread
    # finishes the text it started; and who is publishing it now, so two workers never both do.
    plan: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CentralAccount(Base):
    """Who the central account is on each platform, as its adapter reported at start-up."""

    __tablename__ = "central_accounts"
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    platform_account_id: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FollowerSnapshot(Base):
    """The central account's follower count, one row per platform and UTC day (last one wins)."""

    __tablename__ = "follower_snapshots"
    __table_args__ = (UniqueConstraint("community_id", "platform", "day"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    platform: Mapped[str] = mapped_column(String(16))
    day: Mapped[datetime] = mapped_column(UTCDateTime())  # midnight UTC
    followers: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The reach report's lookups: a member's posts in a period, the best received posts, a period's
# candidates (covering what curation health reads) and boosts.
Index("ix_posts_account_created", table(Post).c.account_id, table(Post).c.created_at)
Index("ix_posts_community_engagement", table(Post).c.community_id, table(Post).c.engagement)
Index(
    "ix_candidates_community_created",
    table(Candidate).c.community_id,
    table(Candidate).c.created_at,
    table(Candidate).c.state,
    table(Candidate).c.decided_at,
)
Index(
    "ix_amplifications_community_completed",
    table(Amplification).c.community_id,
    table(Amplification).c.completed_at,
)


class PublicationPart(Base):
    """Each published part of a thread, so a crash mid-thread resumes where it stopped."""

    __tablename__ = "publication_parts"
    __table_args__ = (UniqueConstraint("publication_id", "position"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id"))
    position: Mapped[int] = mapped_column(Integer)
    receipt_ref: Mapped[str] = mapped_column(Text)
    receipt_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Opportunity(Base):
    """A scholarship, rotation, fellowship, job… for the weekly digest; one per normalised url."""

    __tablename__ = "opportunities"
    __table_args__ = (UniqueConstraint("community_id", "url_key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    organisation: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(1024))
    deadline: Mapped[date | None] = mapped_column(Date)
    eligibility: Mapped[str] = mapped_column(Text, default="")  # comma-separated tags
    language: Mapped[str | None] = mapped_column(String(16))
    submitted_by: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))  # cli | import | post:<platform> | telegram
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(255))


class Interview(Base):
    """A member's mini-interview, from invitation through consent to its slot (or withdrawal)."""

    __tablename__ = "interviews"
    __table_args__ = (
        UniqueConstraint("community_id", "series", "slot"),
        Index("ix_interviews_community_state", "community_id", "state", "confirmed_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str] = mapped_column(String(255), default="")
    platform: Mapped[str | None] = mapped_column(String(16))  # where the member is reached
    member_ref: Mapped[str | None] = mapped_column(String(255))  # e.g. a Telegram user id
    language: Mapped[str] = mapped_column(String(16))
    # invited | answered | awaiting_consent | queued | scheduled | published | withdrawn
    state: Mapped[str] = mapped_column(String(24))
    answers: Mapped[str] = mapped_column(Text, default="{}")  # JSON: question id -> answer
    text: Mapped[str | None] = mapped_column(Text)  # the post as it stands (composed or edited)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_text: Mapped[str | None] = mapped_column(Text)  # exactly what the member was shown
    invited_by: Mapped[str] = mapped_column(String(255))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(255))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_via: Mapped[str | None] = mapped_column(String(64))
    series: Mapped[str | None] = mapped_column(String(64))
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=0)  # compare-and-set on every change


class SeriesCheckpoint(Base):
    """Up to when a series' schedule was looked at, so slots missed while down can be told."""

    __tablename__ = "series_checkpoints"
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    checked_until: Mapped[datetime] = mapped_column(UTCDateTime())


# The series runner reads the publications of the last hours at every cycle.
Index("ix_publications_community_slot", table(Publication).c.community_id, table(Publication).c.slot)


Index("ix_amplifications_community_state", table(Amplification).c.community_id, table(Amplification).c.state)
