"""The contract every platform adapter fulfils; the core talks to platforms only through it."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence

from bot.domain import Action, Author, Batch, Platform, Post, Receipt, TextLimits


class PlatformAdapter(abc.ABC):
    """One platform, one central account.

    Adapters take their client object from outside so tests can point the real library at a
    loopback server, and translate every library error into ``bot.errors`` at their edge.
    """

    platform: Platform
    limits: TextLimits
    #: True when asking twice for the same amplification leaves one (Mastodon reblog, Bluesky
    #: repost with a viewer check). When False, an amplification interrupted by a crash is
    #: reported to the curators instead of repeated.
    amplify_is_idempotent: bool = True

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect, log in, learn who the central account is."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @abc.abstractmethod
    def watch(
        self, tags: Sequence[str], cursors: Mapping[str, str | None], *, follow: bool
    ) -> AsyncIterator[Batch]:
        """Yield batches of posts with any of ``tags`` (and nominations), each with its cursor.

        ``cursors`` maps each source name to where the last run stopped (None: first start).
        With ``follow=False`` the iterator ends once it has caught up; otherwise it keeps
        watching until cancelled.
        """

    @abc.abstractmethod
    async def resolve(self, url_or_ref: str) -> Post:
        """A nominated link or reference, as a Post (raises NotFound)."""

    @abc.abstractmethod
    async def amplify(self, post: Post, action: Action) -> Receipt:
        """Boost / repost / forward ``post`` from the central account."""

    @abc.abstractmethod
    async def undo(self, receipt: Receipt) -> None:
        """Take back an amplification or a published post."""

    @abc.abstractmethod
    async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
        """Post ``text`` from the central account, as a reply to ``reply_to`` in a thread."""

    async def fetch_author(self, author: Author) -> Author | None:
        """The author's current profile (opt-out markers change); None when unknown."""
        return None
