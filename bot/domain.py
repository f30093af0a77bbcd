"""Domain types shared by the core and the adapters: what a post, an author and a receipt are.

Pure data, no I/O. Adapters turn platform payloads into these; the core never sees a
platform library's objects.
"""

from __future__ import annotations

import re
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


_TAG_IN_TEXT = re.compile(r"(?:^|(?<=[^\w/]))[#＃](\w+)", re.UNICODE)


def hashtags_in(text: str) -> frozenset[str]:
    """Hashtags written in plain text, normalised (for platforms that give no tag list, and
    for the opt-out markers in a profile's bio)."""
    text = unicodedata.normalize("NFKC", text)
    return frozenset(normalize_tag(t) for t in _TAG_IN_TEXT.findall(text))


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
    # What the author told their own platform about being found, read with the profile: the
    # names of the signals that hold discovery back (see bot.trust.discovery.SIGNALS). Empty: none.
    withheld: frozenset[str] = frozenset()

    @property
    def shown(self) -> str:
        """How people see this account named in what the account publishes (see ``shown_name``)."""
        return shown_name(self.handle, self.display_name)


def is_number_handle(handle: str) -> bool:
    """True for a handle that is only the platform's number for an account ("tg:5001": a
    Telegram user without a username) — a key to find the account by, no name to show people."""
    prefix, sep, number = handle.partition(":")
    return bool(sep) and prefix.isalpha() and number.isdigit()


def shown_name(handle: str, display_name: str = "") -> str:
    """An account's public handle; its display name when the handle is only a number."""
    if is_number_handle(handle) and display_name.strip():
        return display_name.strip()
    return handle


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
    # A quote post carries someone else's post: its id, and its author (whose consent counts too).
    quote_of: str | None = None
    quoted_author: Author | None = None
    # What made this post automated though its author is no bot account, as the curator reads it
    # ("sent via @gamebot"); the author's own bot flag is ``author.is_bot``.
    automated: str | None = None
    # When its author last edited it (None: never). A post seen again with a newer one is an
    # edit: its candidate and card are updated, not queued anew.
    edited_at: datetime | None = None

    def authors(self) -> tuple[Author, ...]:
        """Everyone whose consent amplifying this post needs: its author, and whoever it quotes."""
        return (self.author,) if self.quoted_author is None else (self.author, self.quoted_author)

    @property
    def by_bot(self) -> bool:
        """Posted by a bot or an automated account, or through one."""
        return self.author.is_bot or bool(self.automated)


@dataclass(frozen=True, slots=True)
class Nomination:
    """A member pointed at ``post``: by replying with a mention, ``/nominate`` or a link."""

    post: Post
    nominated_by: Author
    note: str = ""
    # "forward": a member forwarded someone else's message with the hashtag; it is judged like a
    # post of its original author and the card says who forwarded it.
    reason: str = "nomination"


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
