"""The core's ports: the contract every platform adapter fulfils, and the contract of the curators'
console on a platform. The core talks to platforms only through these; adapters import this
module, never the reverse."""

from __future__ import annotations

import abc
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

from bot.domain import Action, Author, Batch, Platform, Post, Receipt, TextLimits
from bot.inert import InertRules, inert, inert_html
from bot.richtext import Doc


@dataclass(frozen=True, slots=True)
class Engagement:
    """How a post was received, as its platform counts it; a platform without quotes says 0."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0


@dataclass(frozen=True, slots=True)
class ListSync:
    """What bringing the central account's members list in step did."""

    list_ref: str  # the platform's id of the list (Mastodon list id, Bluesky list at-uri)
    added: int = 0
    removed: int = 0
    pending: tuple[str, ...] = ()  # account ids that cannot be listed yet (a follow request waits)


class PlatformCatalog(Protocol):
    """What the core may know of each platform without making its adapter: the schema of its
    settings and what its adapter class declares about text. The composition root passes the
    adapters' registry (``adapters.registry.REGISTRY``); nothing in the core imports it."""

    def settings_class(self, platform: Platform) -> type: ...

    def limits(self, platform: Platform) -> TextLimits: ...

    def markup(self, platform: Platform) -> str: ...

    def inert_rules(self, platform: Platform) -> InertRules | None: ...


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
    #: How ``publish_part`` reads its text: "plain", or "html" (Telegram's parse_mode HTML:
    #: the series composers then escape member text and write only <b> and <a href>).
    markup: str = "plain"
    #: What this platform makes live in plain text on its own (``bot.inert``); None when the
    #: adapter declares every link, tag and mention itself (Bluesky's facets) and the text can
    #: stay exactly as written.
    inert_rules: InertRules | None = InertRules()
    #: The community's hashtags (normalised): the only ones the account's posts keep live.
    own_tags: frozenset[str] = frozenset()

    def inert(self, text: str, *, markup: str | None = None) -> str:
        """``text`` as this platform must receive it from the central account: no mention, no
        foreign hashtag, no command, no bare link (``bot.inert``). Every path that publishes
        composed text calls it last; composers may call it first (it is idempotent) so that what
        they measure is what goes out."""
        if self.inert_rules is None:
            return text
        rules = self.inert_rules.with_tags(self.own_tags)
        if (markup or self.markup) == "html":
            return inert_html(text, rules)
        return inert(text, rules)

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

    async def send_direct(self, author: Author, text: str, reply_to: str | None = None) -> Receipt | None:
        """Tell ``author`` privately (a confirmation of their opt-out, say), under their message
        ``reply_to`` where the platform threads; None when this platform cannot."""
        logging.getLogger(__name__).info(
            "direct messages not supported", extra={"platform": self.platform.value}
        )
        return None

    async def posts_gone(self, posts: Sequence[Post]) -> set[str] | None:
        """Which of ``posts`` (by post_id) their authors deleted; None when this platform can't tell.
        Called for recently amplified posts, a few at a time."""
        return None

    async def stranger_replies(self, posts: Sequence[Post]) -> Mapping[str, int] | None:
        """For each of ``posts`` (by post_id), how many distinct accounts replied to it that do
        not follow its author; neither the author's own replies nor the central account's count.
        A post this platform cannot answer for (gone, or too many followers to tell) is left
        out; None when the platform cannot tell at all. Called for open candidates, a few at a
        time, to flag a pile-on on their cards."""
        return None

    def use_last_look(self, may_answer: Callable[[str], bool]) -> None:  # noqa: B027 - optional hook
        """For an adapter that answers members on its own (a thank-you under a nomination): ask
        ``may_answer(account_id)`` — the core's last look, a blocking database read — first."""

    def attach(self, peers: Mapping[Platform, PlatformAdapter]) -> None:  # noqa: B027 - optional hook
        """Meet the other adapters once all have started (to resolve a link a member sends us to a
        post on another platform, say)."""

    def spotlights(self, post: Post) -> bool:
        """Whether an approved ``post`` from another platform is also shown here (Action.SPOTLIGHT)."""
        return False

    def curator_console(self) -> ConsoleFront | None:
        """The curators' console on this platform (cards with buttons), if it offers one."""
        return None

    # -- reach (directory and report); every one optional: None means "not on this platform",
    # and the caller logs that and skips. Bluesky: getPosts (likeCount, repostCount,
    # replyCount, quoteCount), getProfile (followersCount), getRelationships (followedBy), and
    # an app.bsky.graph.list of purpose app.bsky.graph.defs#curatelist with one listitem each.

    def central_account(self) -> Author | None:
        """The central account on this platform, once ``start`` has learnt it."""
        return None

    async def engagement(self, posts: Sequence[Post]) -> Mapping[str, Engagement] | None:
        """Current counts of ``posts`` by post_id; a post that is gone is simply missing."""
        return None

    async def follower_count(self) -> int | None:
        """How many accounts follow the central account now."""
        return None

    async def follows_central(self, account_ids: Sequence[str]) -> Mapping[str, bool] | None:
        """Which of ``account_ids`` follow the central account (unknown ids are left out)."""
        return None

    async def sync_member_list(self, title: str, members: Sequence[Author]) -> ListSync | None:
        """Make the central account's list ``title`` hold exactly ``members`` (created if need be).
        Only members who consented are ever passed in."""
        return None


Verb = Literal["approve", "reject", "snooze", "retry"]
VERBS: tuple[Verb, ...] = ("approve", "reject", "snooze", "retry")


# -- the console contract: what a card is ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    verb: Verb | None = None  # a decision button…
    url: str | None = None  # …or a link


@dataclass(frozen=True, slots=True)
class Card:
    doc: Doc
    buttons: tuple[tuple[Button, ...], ...] = ()
    candidate_id: int | None = None  # what the decision buttons decide

    def fingerprint(self) -> str:
        """Changes exactly when what a curator sees changes (so unchanged cards are not edited)."""
        shown = self.doc.plain() + "".join(f"|{b.label}>{b.url}" for row in self.buttons for b in row)
        return hashlib.sha256(shown.encode()).hexdigest()


@dataclass(frozen=True)
class Timings:
    nudge_after: timedelta = timedelta(hours=12)
    expire_after: timedelta = timedelta(days=7)
    sync_every: timedelta = timedelta(seconds=10)  # how soon decisions made elsewhere show


# -- what the front end tells the console, and what it can do ---------------------------------------


@dataclass(frozen=True)
class Tap:
    """A person tapped a decision button whose data the front end has verified as ours."""

    user: str  # the person's id on the front end's platform
    verb: Verb
    candidate_id: int
    handle: Any = None  # the front end's own object, to answer the tap


@dataclass(frozen=True)
class Command:
    user: str
    name: str  # without the slash
    args: str = ""
    handle: Any = None
    private: bool = False  # sent in the person's private chat with the bot, not the curators' group


class ConsoleFront(Protocol):
    """The console on one platform. Errors are ``bot.errors``: RateLimited, Rejected, NotFound
    and Unauthorized mean the message surely did not go out; anything else may have."""

    platform: Platform
    chat: str  # where the cards go
    timings: Timings

    async def next_event(self) -> Tap | Command: ...

    async def send_card(self, card: Card, *, reply_to: str | None = None) -> str:
        """Send ``card``; the message's id."""
        ...

    async def edit_card(self, message: str, card: Card) -> None:
        """Show ``card`` in place of message ``message`` (NotFound: a person deleted it)."""
        ...

    async def answer(self, tap: Tap, text: str, *, alert: bool) -> None: ...

    async def reply(self, command: Command, doc: Doc) -> None: ...

    def start_link(self, payload: str) -> str | None:
        """A link that opens a private chat with the bot and hands it ``payload``, if the
        platform has such links (None otherwise)."""
        ...
