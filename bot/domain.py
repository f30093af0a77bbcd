"""Domain types shared by the core and the adapters: what a post, an author and a receipt are.

Pure data, no I/O. Adapters turn platform payloads into these; the core never sees a
platform library's objects.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Platform(StrEnum):
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    TELEGRAM = "telegram"


class Action(StrEnum):
    """How the central account amplifies a post."""

    BOOST = "boost"  # reblog on Mastodon, repost on Bluesky, copy to the channel on Telegram
    SPOTLIGHT = "spotlight"  # a short card about a post from another platform
    PUBLISH = "publish"  # an original post of ours (digest, interview)


class CandidateState(StrEnum):
    PENDING = "pending"
    SNOOZED = "snoozed"
    APPROVED = "approved"
    REJECTED = "rejected"
    AMPLIFIED = "amplified"
    FAILED = "failed"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the member opted out or deleted the post


OPEN_STATES = (CandidateState.PENDING, CandidateState.SNOOZED)


def normalize_tag(tag: str) -> str:
    """Hashtags compare after NFKC and case folding, without the leading '#'."""
    return unicodedata.normalize("NFKC", tag.lstrip("#＃")).casefold()


@dataclass(frozen=True, slots=True)
class TextLimits:
    """How long a post may be and how the platform counts it."""

    max_length: int
    counting: str = "chars"  # "chars" (code points) or "graphemes"
    link_length: int | None = None  # Mastodon counts every link as 23 characters


@dataclass(frozen=True, slots=True)
class Author:
    account_id: str  # Mastodon account id, Bluesky DID, Telegram user id
    handle: str  # user@server, handle.bsky.social, @username
    display_name: str = ""
    url: str | None = None
    bio: str = ""
    is_bot: bool = False
    is_group: bool = False
    created_at: datetime | None = None
    followers_count: int | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """One platform post, normalised. ``post_id`` is the id our own server/account uses for it."""

    platform: Platform
    post_id: str
    url: str
    author: Author
    text: str
    created_at: datetime
    hashtags: frozenset[str] = frozenset()  # already normalised with normalize_tag
    is_reply: bool = False
    is_boost: bool = False
    reply_to: str | None = None
    language: str | None = None
    content_warning: str | None = None
    mentions: tuple[str, ...] = ()
    ref: str | None = None  # extra handle an adapter needs later (Bluesky CID, Telegram chat)


@dataclass(frozen=True, slots=True)
class Nomination:
    """A member pointed at ``post``: by replying with a mention, ``/nominate`` or a link."""

    post: Post
    nominated_by: Author
    note: str = ""


@dataclass(frozen=True, slots=True)
class MemberRequest:
    """A member asking the bot about themselves: ``optout``, ``optin`` or ``link`` (with a code
    in ``argument``, or none to be given one); or, in a private chat, about their mini-interview
    (``bot.series.interview_chat``: ``interview`` with the link's token, ``answer`` with the full
    text of a plain message, ``confirm``, ``withdraw``). ``reply_ref`` is the platform's id of the
    message that asked, so the answer can thread under it and a replayed message counts once."""

    kind: str
    author: Author
    platform: Platform
    argument: str | None = None
    reply_ref: str | None = None
    # True when the answer reaches only this member (a Mastodon direct message, a Telegram
    # private chat); False when it is public (a Bluesky reply): no secret is ever sent there.
    private: bool = False


@dataclass(slots=True)
class Batch:
    """What one read of a platform source produced, and the cursor just after it.

    ``malformed`` counts the items the adapter logged and skipped; the cursor still moves on
    past them so one bad post cannot wedge the stream.
    """

    source: str
    cursor: str | None
    posts: list[Post] = field(default_factory=list)
    nominations: list[Nomination] = field(default_factory=list)
    malformed: int = 0
    requests: list[MemberRequest] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that the platform did what we asked, enough to find or undo it later."""

    platform: Platform
    action: Action
    ref: str  # reblog status id, repost record URI, channel message id
    url: str | None = None
    already: bool = False  # the platform said it had already been done
