"""The Telegram adapter: one python-telegram-bot Application reads the bot's updates for both
the member watch and the curators' console, and posts to the community channel.

Telegram hands every update of a bot to one ``getUpdates`` reader, so there is exactly one:
``watch``. It reads a page, lets the Application's handlers sort it (member posts and
nominations into the page's batch, taps and curator commands onto the console's queue),
waits until the console has applied the page's taps and commands, yields the batch, and only
asks for the next page — which confirms this one to Telegram — once the batch is stored. An
update whose application failed is not confirmed: it is read again and retried — by the next
run in cron mode, after a growing pause in ``run`` — and after ``APPLY_ATTEMPTS`` failures
(counted in the ``update-retries`` cursor, so across runs) logged and passed over, so one bad
update never stalls the stream. A crash or the end of a ``run --once`` therefore replays updates
instead of losing them. (PTB's own Updater confirms a
page as soon as it has fetched it, hence this loop.) Two ``getUpdates`` requests are at least
``poll_min_interval`` apart on the injected clock, however fast a server answers.

Pages are read as JSON and repaired (lone surrogates) before python-telegram-bot parses them,
update by update; an edited message comes back as the same post with its ``edited_at``.

Amplifying copies a member's message to the channel with a credit button, or posts a
spotlight of a post from another platform. Neither can be asked twice safely, so
``amplify_is_idempotent`` is False and an interrupted one is reported, not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from adapters.telegram.console import TelegramConsole
from adapters.telegram.errors import call, translate
from adapters.telegram.normalize import (
    HIDDEN,
    chat_link,
    forwarder_of,
    parse_ref,
    post_ref,
    repair_text,
    to_author,
    to_post,
)
from adapters.telegram.pacer import Pacer
from adapters.telegram.profiles import Profiles
from adapters.telegram.render import LIMITS, RULES, to_html
from adapters.telegram.settings import TelegramSettings
from bot.clock import Clock, SystemClock
from bot.console.console import COMMANDS
from bot.domain import Action, Author, Batch, MemberRequest, Nomination, Platform, Post, Receipt
from bot.errors import MalformedPayload, NotFound, PlatformError, Rejected
from bot.inert import own_tags
from bot.links import safe_url
from bot.ports import PlatformAdapter
from bot.richtext import Doc, Span, Style
from bot.series import interview_chat
from bot.series.markup import Markup
from bot.text import fits
from bot.trust import member_commands
from bot.trust.sender_budget import SenderBudget

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

UPDATES = "updates"  # the one source: the bot's update stream
RETRIES = "update-retries"  # "id:attempts,…" of updates not yet applied, kept across runs (cron)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
PAGE = 100  # getUpdates' largest page
APPLY_PATIENCE = 30.0  # seconds a page waits for the console to apply its taps before reading on
APPLY_ATTEMPTS = 5  # an update whose application fails this often is logged and passed over
HTML = Markup("html")
AMPLIFY_PATIENCE = 3.0  # seconds an amplification may wait for Telegram before it is rescheduled
# What a post we can no longer delete is edited to say (api#deletemessage: 48 hours at most).
WITHDRAWN = "This post was withdrawn."


@dataclass
class _Page:
    """What one page of updates holds for the member watch."""

    posts: list[Post] = field(default_factory=list)
    nominations: list[Nomination] = field(default_factory=list)
    links: list[tuple[str, Author, Message]] = field(default_factory=list)
    requests: list[MemberRequest] = field(default_factory=list)
    malformed: int = 0
    handed: dict[int, asyncio.Future[bool]] = field(default_factory=dict)  # update id -> applied?
    retried: bool = False  # an update that had failed before is settled now (applied or given up)


def build_application(settings: TelegramSettings, clock: Clock) -> Application[Any, Any, Any, Any, Any, Any]:
    """python-telegram-bot's Application as we use it: our pacer, our polling loop (no Updater)."""
    pacer = Pacer(
        clock,
        group_per_minute=settings.group_messages_per_minute,
        private_per_second=settings.private_messages_per_second,
        overall_per_second=settings.messages_per_second,
        max_retries=settings.retry_after_max_retries,
    )
    timeout = settings.request_timeout
    return (
        Application.builder()
        .token(settings.bot_token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_url.rpartition("/bot")[0] + "/file/bot")
        .request(HTTPXRequest(connection_pool_size=32, read_timeout=timeout, write_timeout=timeout))
        .get_updates_request(HTTPXRequest(read_timeout=timeout, write_timeout=timeout))
        .rate_limiter(pacer)
        .updater(None)
        .build()
    )


def _read_retries(saved: str | None) -> dict[int, int]:
    """The ``RETRIES`` cursor, "id:attempts,…", as a dict; anything unreadable counts as none."""
    out: dict[int, int] = {}
    for part in (saved or "").split(","):
        update_id, _, attempts = part.partition(":")
        if update_id.isdigit() and attempts.isdigit():
            out[int(update_id)] = int(attempts)
    return out


def _update_of(item: Any, bot: Any) -> Update:
    if not isinstance(item, Mapping) or not isinstance(item.get("update_id"), int):
        raise MalformedPayload("the update has no update_id")
    return Update.de_json(dict(item), bot)


class TelegramAdapter(PlatformAdapter):
    platform = Platform.TELEGRAM
    limits = LIMITS
    amplify_is_idempotent = False  # a second copyMessage is a second post in the channel
    markup = "html"  # the series write HTML for the channel: bold headers, links with short text
    inert_rules = RULES

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        settings: TelegramSettings,
        *,
        community: str = "the community",
        clock: Clock | None = None,
        sender_budget: SenderBudget | None = None,
    ) -> None:
        self.application = application
        # What this adapter answers or looks up on its own for a private chat (/start, links to
        # nominate) is held to a per-sender budget too; the core's requests have their own.
        self.sender_budget = sender_budget or SenderBudget(20, timedelta(hours=1))
        self.bot = application.bot
        self.settings = settings
        self.community = community
        # The pacer's clock unless told otherwise: one notion of time for all of Telegram.
        self.clock: Clock = clock or getattr(application.bot.rate_limiter, "clock", None) or SystemClock()
        self.console = TelegramConsole(self.bot, settings) if settings.curator_chat_id is not None else None
        self.peers: dict[Platform, PlatformAdapter] = {}
        self.me: Author | None = None
        self.profiles = Profiles(self._read_profile, self.clock, ttl=settings.profile_cache_seconds)
        self._tags: frozenset[str] = frozenset()
        self._page: _Page | None = None
        self._started = False
        self._last_poll: float | None = None  # when the last getUpdates went out, on self.clock
        self._applied: set[int] = set()  # update ids applied or stored but maybe not yet confirmed
        self._attempts: dict[int, int] = {}  # update id -> failed applications so far
        self._replies: set[asyncio.Task[None]] = set()  # answers to members, still on their way
        self._may_answer: Callable[[str], bool] | None = None  # the core's last look, once given
        self._handlers()

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        try:
            await self.application.initialize()  # getMe: a wrong token stops here
            await self.application.start()
        except TelegramError as exc:
            raise translate(exc) from exc
        self._started = True
        self.me = to_author(self.bot.bot)
        log.info("telegram connected", extra={"platform": "telegram", "account": self.me.handle})
        await self._check_group_access()

    async def _check_group_access(self) -> None:
        """Say so at start-up when Telegram will not show the bot the community groups' messages.

        A bot in privacy mode gets only commands, replies to it and mentions of it in a group
        where it is not an administrator (bots/features#privacy-mode): hashtag messages there
        would never arrive, and nothing else would say why.
        """
        if self.bot.bot.can_read_all_group_messages:
            return
        for chat_id in self.settings.community_chat_ids:
            try:
                member = await call(self.bot.get_chat_member(chat_id, self.bot.id))
            except PlatformError as exc:
                log.warning(
                    "could not check whether the bot sees a community group",
                    extra={"platform": "telegram", "chat": chat_id, "error": str(exc)},
                )
                continue
            if member.status not in ("administrator", "creator"):
                log.warning(
                    "privacy mode hides this community group's messages from the bot: make it an "
                    "administrator there, or turn privacy mode off with BotFather's /setprivacy",
                    extra={"platform": "telegram", "chat": chat_id},
                )

    async def close(self) -> None:
        for task in list(self._replies):
            task.cancel()
        await asyncio.gather(*self._replies, return_exceptions=True)
        if not self._started:
            return
        self._started = False
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def attach(self, peers: Mapping[Platform, PlatformAdapter]) -> None:
        self.peers = {p: a for p, a in peers.items() if a is not self}

    def curator_console(self) -> TelegramConsole | None:
        return self.console

    def spotlights(self, post: Post) -> bool:
        return (
            self.settings.spotlight_on_channel
            and self.settings.channel_id is not None
            and post.platform is not Platform.TELEGRAM
        )

    # -- the update stream ----------------------------------------------------------------------------

    def _handlers(self) -> None:
        app, cfg = self.application, self.settings
        # Commands and private messages act when sent; an edit of one is not a second request.
        new = filters.UpdateType.MESSAGE
        private = filters.ChatType.PRIVATE & new
        app.add_handler(CallbackQueryHandler(self._on_callback))
        if self.console is not None:
            curators = filters.Chat(chat_id=self.console.chat_id) & new
            app.add_handler(CommandHandler(list(COMMANDS), self.console.on_command, filters=curators))
        community = filters.Chat(chat_id=list(cfg.community_chat_ids))
        app.add_handler(CommandHandler("nominate", self._on_nominate, filters=community & new))
        app.add_handler(CommandHandler(["start", "help"], self._on_start, filters=private))
        app.add_handler(CommandHandler(list(member_commands.KINDS), self._on_member_request, filters=private))
        app.add_handler(
            CommandHandler(
                [interview_chat.CONFIRM, interview_chat.WITHDRAW], self._on_interview_command, filters=private
            )
        )
        # Edits of group messages too: an edited post updates its candidate (the store sees edited_at).
        app.add_handler(MessageHandler(community & (filters.TEXT | filters.CAPTION), self._on_group_message))
        app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, self._on_private_text))
        app.add_error_handler(self._on_error)

    async def watch(
        self, tags: Sequence[str], cursors: Mapping[str, str | None], *, follow: bool
    ) -> AsyncIterator[Batch]:
        await self.start()
        self._tags = frozenset(tags)
        cursor = cursors.get(UPDATES)
        # Telegram keeps what we have not confirmed; starting past our cursor confirms what we stored.
        offset = int(cursor) + 1 if cursor and cursor.lstrip("-").isdigit() else None
        for update_id, attempts in _read_retries(cursors.get(RETRIES)).items():
            self._attempts[update_id] = max(self._attempts.get(update_id, 0), attempts)
        while True:
            raw = await call(self._raw_updates(offset, int(self.settings.poll_timeout) if follow else 0))
            updates, last_id, broken = self._parse_updates(raw)
            failed: set[int] = set()
            if last_id is not None:
                page = await self._sort([u for u in updates if u.update_id not in self._applied])
                page.malformed += broken
                failed = await self._settle(page)
                # Confirm up to the first update not yet applied: it and what follows come again.
                upto = min(failed) - 1 if failed else last_id
                nominations = await self._resolve_links(page.links)
                await self._read_bios(page)
                if page.posts or page.nominations or nominations or page.requests or page.malformed:
                    yield Batch(
                        source=UPDATES,
                        cursor=str(upto),
                        posts=page.posts,
                        nominations=page.nominations + nominations,
                        malformed=page.malformed,
                        requests=page.requests,
                    )
                if failed or page.retried:  # how often each failed, for the next run to know
                    retries = ",".join(f"{u}:{self._attempts.get(u, 0)}" for u in sorted(failed))
                    yield Batch(source=RETRIES, cursor=retries or None)
                # Stored (the batch came back) or applied: not handled again if read again.
                self._applied.update(u.update_id for u in updates if u.update_id not in failed)
                offset = upto + 1
                self._applied = {i for i in self._applied if i >= offset}
                if failed and not follow:  # the next run reads it again; a cron run does not spin
                    return
                if failed:  # wait a little longer each time (the database may be back soon)
                    attempts = max((self._attempts.get(u, 0) for u in failed), default=0)
                    await self.clock.sleep(min(2.0**attempts, 60.0))
            if not follow and len(raw) < PAGE and not failed:
                if last_id is not None:  # confirm the last page now: the next run starts after it
                    await call(self._raw_updates(offset, 0, limit=1))
                return

    async def _settle(self, page: _Page) -> set[int]:
        """Wait (a while) for the console to apply the page's taps and commands; the ids of the
        updates not applied, to be read again. One that keeps failing is given up on, logged."""
        if not page.handed:
            return set()
        await asyncio.wait(list(page.handed.values()), timeout=APPLY_PATIENCE)
        failed: set[int] = set()
        for update_id, future in page.handed.items():
            if future.done() and future.result():
                page.retried |= self._attempts.pop(update_id, None) is not None
                continue
            if not future.done():  # still under way: waited for again when read again
                failed.add(update_id)
                continue
            attempts = self._attempts.get(update_id, 0) + 1
            if attempts >= APPLY_ATTEMPTS:
                self._attempts.pop(update_id, None)
                page.retried = True
                log.error(
                    "a tap or command failed every time; passed over",
                    extra={"platform": "telegram", "update": update_id, "attempts": attempts},
                )
                continue
            self._attempts[update_id] = attempts
            failed.add(update_id)
        return failed

    async def _read_bios(self, page: _Page) -> None:
        """Authors with their profile text (``#nobot`` in a bio keeps them out), read before the
        pipeline decides. A profile that cannot be read is left empty: the amplifier reads it
        again before any platform call and holds the work while it cannot."""
        authors = {p.author.account_id: p.author for p in page.posts}
        authors.update((n.post.author.account_id, n.post.author) for n in page.nominations)
        bios: dict[str, str] = {}
        for account_id, author in authors.items():
            try:
                bio = await self._bio_of(author)
            except PlatformError as exc:
                log.info(
                    "could not read a profile",
                    extra={"platform": "telegram", "account": account_id, "error": str(exc)},
                )
                continue
            if bio:
                bios[account_id] = bio

        def with_bio(post: Post) -> Post:
            bio = bios.get(post.author.account_id)
            return (
                dataclasses.replace(post, author=dataclasses.replace(post.author, bio=bio)) if bio else post
            )

        page.posts = [with_bio(p) for p in page.posts]
        page.nominations = [dataclasses.replace(n, post=with_bio(n.post)) for n in page.nominations]

    async def _bio_of(self, author: Author, *, fresh: bool = False) -> str | None:
        """A user's bio or a chat's description; None for an author with nothing to read."""
        if author.account_id.startswith(HIDDEN) or not author.account_id.lstrip("-").isdigit():
            return None
        if author.is_group and author.handle.startswith("@"):  # a public chat is found by its name
            return await self.profiles.bio(author.handle, fresh=fresh)
        return await self.profiles.bio(int(author.account_id), fresh=fresh)

    async def _read_profile(self, chat_id: int | str) -> str:
        chat = await call(self.bot.get_chat(chat_id))
        return chat.bio or chat.description or ""

    async def fetch_author(self, author: Author) -> Author | None:
        """The author with their bio as it is now (the amplifier's last look; never cached).
        Raises when it cannot be read, so nothing is amplified on a stale profile."""
        await self.start()
        bio = await self._bio_of(author, fresh=True)
        # Nothing to read (a sender who hides their account in forwards) is not an unreadable
        # profile: the author stands as the message showed them.
        return author if bio is None else dataclasses.replace(author, bio=bio)

    async def _poll_gate(self) -> None:
        """At least ``poll_min_interval`` between two getUpdates, even when a server (or a proxy,
        or an error) answers at once: a fast answer must not become a busy loop."""
        interval = self.settings.poll_min_interval
        if self._last_poll is not None and interval > 0:
            wait = self._last_poll + interval - self.clock.now().timestamp()
            if wait > 0:
                await self.clock.sleep(wait)
        self._last_poll = self.clock.now().timestamp()

    async def _raw_updates(self, offset: int | None, wait: int, limit: int = PAGE) -> list[Any]:
        """One getUpdates page as Telegram sent it. python-telegram-bot's ``get_updates`` parses
        the page as a whole, so one update it cannot read would fail every read of that page and
        stall the stream; we read the JSON and parse update by update (:meth:`_parse_updates`)."""
        await self._poll_gate()
        data = {"offset": offset, "limit": limit, "timeout": wait, "allowed_updates": ALLOWED_UPDATES}
        result = await self.bot._post(  # the request get_updates makes, unparsed
            "getUpdates", data, read_timeout=self.settings.request_timeout + wait
        )
        if not isinstance(result, list):
            raise MalformedPayload(f"getUpdates answered a {type(result).__name__}, not a list")
        return [repair_text(item) for item in result]

    def _parse_updates(self, raw: Sequence[Any]) -> tuple[list[Update], int | None, int]:
        """The updates of a page that parse, the highest update_id seen (the next offset is past
        it, broken updates included) and how many were logged and skipped."""
        updates: list[Update] = []
        last_id: int | None = None
        broken = 0
        for item in raw:
            update_id = item.get("update_id") if isinstance(item, Mapping) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                last_id = update_id if last_id is None else max(last_id, update_id)
            try:
                update = _update_of(item, self.bot)
            except Exception as exc:  # any parse failure is this one update's
                broken += 1
                log.warning(
                    "skipped malformed update",
                    extra={"platform": "telegram", "update": update_id, "error": repr(exc)[:300]},
                )
                continue
            updates.append(update)
        return updates, last_id, broken

    async def _sort(self, updates: Sequence[Update]) -> _Page:
        page = _Page()
        self._page = page
        try:
            for update in updates:
                waiting = self.console.waiting(update.update_id) if self.console is not None else None
                if waiting is not None:  # read again while the console still applies it
                    page.handed[update.update_id] = waiting
                    continue
                try:
                    await self.application.process_update(update)
                    waiting = self.console.waiting(update.update_id) if self.console is not None else None
                    if waiting is not None:
                        page.handed[update.update_id] = waiting
                except Exception as exc:  # a handler's filter choked on this one update
                    page.malformed += 1
                    log.warning(
                        "skipped malformed update",
                        extra={"platform": "telegram", "update": update.update_id, "error": repr(exc)[:300]},
                    )
        finally:
            self._page = None
        return page

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        if self._page is not None:  # counted with the page's malformed items, not dropped unseen
            self._page.malformed += 1
        log.error(
            "a Telegram update could not be handled",
            extra={"platform": "telegram", "update": update_id, "error": repr(context.error)[:300]},
        )

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.console is not None:
            await self.console.on_callback(update, context)
        elif update.callback_query is not None:
            self._later(call(update.callback_query.answer("This bot has no console here.")))

    async def _on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._page is None:
            return
        try:
            post = to_post(message)
        except MalformedPayload as exc:
            self._page.malformed += 1
            log.warning(
                "skipped malformed message",
                extra={
                    "platform": "telegram",
                    "id": post_ref(message.chat.id, message.message_id),
                    "error": str(exc),
                },
            )
            return
        if not post.hashtags & self._tags and post.edited_at is None:
            return  # other group chatter is none of our business: not stored
        forwarder = forwarder_of(message)
        if forwarder is not None:  # someone else's words: judged as theirs, shown as forwarded
            self._page.nominations.append(Nomination(post, forwarder, note="forwarded", reason="forward"))
        else:
            # An edit is passed on even without the tag: one that removes it withdraws the candidate
            # (the store drops an edit of a post it never stored).
            self._page.posts.append(post)

    async def _on_nominate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._page is None:
            return
        target = message.reply_to_message
        if target is None or target.forum_topic_created is not None:
            self._reply(message, "Reply to the message you want to nominate with /nominate.")
            return
        if target.from_user is not None and target.from_user.id == self.bot.id:
            return
        try:
            post = to_post(target)
            nominator = to_author(message.from_user, message.sender_chat)
        except MalformedPayload as exc:
            self._reply(message, "I can only pass on messages with text.")
            log.info(
                "nomination of a message without text", extra={"platform": "telegram", "error": str(exc)}
            )
            return
        self._page.nominations.append(Nomination(post=post, nominated_by=nominator, note=message.text or ""))
        self._reply(message, "Thank you! The curators will have a look.")

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        payload = (context.args or [""])[0] if message.text and message.text.startswith("/start") else ""
        if payload.startswith(interview_chat.START):  # an interview invitation link was opened
            self._ask_core(message, interview_chat.INTERVIEW, payload.removeprefix(interview_chat.START))
            return
        if self._within_budget(message):
            self._reply(message, self._about(), html=True)

    async def _on_interview_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/confirm and /withdraw in a private chat: the member's mini-interview."""
        message = update.effective_message
        if message is None or not message.text:
            return
        kind = message.text.split()[0].lstrip("/").partition("@")[0].lower()
        self._ask_core(message, kind, None)

    def _ask_core(self, message: Message, kind: str, argument: str | None) -> None:
        """A member's private message for the core (opting out, linking, an interview in
        progress): the core decides, records it once and answers through the trust service."""
        if self._page is None:
            return
        try:
            author = to_author(message.from_user)
        except MalformedPayload:
            return
        self._page.requests.append(
            MemberRequest(
                kind,
                author,
                Platform.TELEGRAM,
                argument,
                reply_ref=post_ref(message.chat.id, message.message_id),
                private=message.chat.type == ChatType.PRIVATE,
            )
        )

    async def _on_member_request(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/optout, /optin, /link CODE in a private chat: the member asking about themselves."""
        message = update.effective_message
        if message is None or self._page is None or not message.text:
            return
        # Unclear ones go to the core too, whose answers are counted per sender (a flood of
        # commands is not answered one by one).
        kind, argument = member_commands.parse_private(message.text)
        self._ask_core(message, kind, argument)

    def _within_budget(self, message: Message) -> bool:
        sender = str(message.from_user.id) if message.from_user else str(message.chat.id)
        if self.sender_budget.allow(sender, message.date):
            return True
        log.debug("private message over the per-sender budget", extra={"platform": "telegram"})
        return False

    def _about(self) -> str:
        where = ", ".join(p.value.capitalize() for p in self.peers) or "other platforms"
        tags = " ".join("#" + t for t in sorted(self._tags)) or "the community hashtag"
        return to_html(
            Doc.of(
                (Span(f"I am the central account of {self.community}.", "bold"),),
                f"Volunteer curators look at messages with {tags} in the community group, and share "
                "the ones they choose in the community channel, with credit to the author.",
                "To suggest someone's message, reply to it in the group with /nominate. To suggest a "
                f"post on {where}, send me its link here.",
                "Nothing is shared without a curator's decision. If you would rather your messages "
                "were never shared, send me /optout: they will not be, on any platform (/optin undoes it).",
            )
        )

    async def _on_private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._page is None:
            return
        found = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
        urls = [e.url if e.type == MessageEntity.TEXT_LINK and e.url else text for e, text in found.items()]
        if not urls:
            # "opt out please", "baja 🙏" typed without a slash are requests too; anything else is
            # an interview answer, or else the core answers with the help text
            parsed = member_commands.parse(message.text or "")
            if parsed is not None and parsed[0] != member_commands.HELP:
                self._ask_core(message, *parsed)
                return
            self._ask_core(message, interview_chat.ANSWER, message.text or "")
            return
        try:
            author = to_author(message.from_user)
        except MalformedPayload:
            return
        if not self._within_budget(message):
            return  # each link costs look-ups on other platforms: a flood gets none
        for url in list(dict.fromkeys(urls))[:3]:
            self._page.links.append((url, author, message))

    async def _resolve_links(self, links: Sequence[tuple[str, Author, Message]]) -> list[Nomination]:
        """Links members sent in private, as posts found through the other platforms' adapters."""
        out: list[Nomination] = []
        for url, author, message in links:
            post = None
            for peer in self.peers.values():
                try:
                    post = await peer.resolve(url)
                    break
                except PlatformError as exc:
                    log.info(
                        "a nominated link is not a post there",
                        extra={"platform": peer.platform.value, "url": url, "error": str(exc)},
                    )
            if post is None:
                self._reply(message, "I could not find a post at that link. Is it public?")
                continue
            out.append(Nomination(post=post, nominated_by=author, note=url))
            self._reply(message, "Thank you! The curators will have a look.")
        return out

    def use_last_look(self, may_answer: Callable[[str], bool]) -> None:
        self._may_answer = may_answer

    def _reply(self, message: Message, text: str, *, html: bool = False, consent: bool = False) -> None:
        """Answer a member without holding up the update stream (replies wait for the pacer).
        The core's last look comes first (nothing for someone opted out, blocked or frozen, or
        while the account is frozen), except for help about consent itself."""
        sender = str(message.from_user.id) if message.from_user is not None else None
        may_answer = None if consent or sender is None else self._may_answer

        async def answer() -> None:
            if (
                may_answer is not None
                and sender is not None
                and not await asyncio.to_thread(may_answer, sender)
            ):
                log.info(
                    "an answer to a member was held back by the last look", extra={"platform": "telegram"}
                )
                return
            await call(
                self.bot.send_message(
                    message.chat.id,
                    text,
                    parse_mode=ParseMode.HTML if html else None,
                    reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
                )
            )

        self._later(answer())

    def _later(self, request: Any) -> None:
        async def quietly() -> None:
            try:
                await request
            except PlatformError as exc:
                log.info("could not answer a member", extra={"platform": "telegram", "error": str(exc)})

        task = asyncio.create_task(quietly(), name="telegram-reply")
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    # -- acting -----------------------------------------------------------------------------------

    async def resolve(self, url_or_ref: str) -> Post:
        raise NotFound(
            "Telegram: the Bot API cannot fetch a message by its link; reply to it with /nominate instead"
        )

    async def send_direct(self, author: Author, text: str, reply_to: str | None = None) -> Receipt | None:
        """A private message to the member (they must have started a chat with the bot)."""
        await self.start()
        if not author.account_id.isdigit():
            return None  # a group or channel speaking, not a person
        chat = int(author.account_id)
        reply = None
        if reply_to:  # the member's own message, "chat:message" as the watch reported it
            with contextlib.suppress(MalformedPayload):
                reply = ReplyParameters(parse_ref(reply_to)[1], allow_sending_without_reply=True)
        # A private chat reaches this member alone, and the bot's own words there may ask her to
        # tap /start or /optin: the text goes as it is.
        sent = await call(
            self.bot.send_message(chat, text, reply_parameters=reply, rate_limit_args=AMPLIFY_PATIENCE)
        )
        return Receipt(Platform.TELEGRAM, Action.PUBLISH, post_ref(chat, sent.message_id))

    def _channel(self) -> int | str:
        if self.settings.channel_id is None:
            raise Rejected("Telegram: no community channel is configured (platforms.telegram.channel_id)")
        return self.settings.channel_id

    async def amplify(self, post: Post, action: Action) -> Receipt:
        await self.start()
        channel = self._channel()
        if action is Action.BOOST and post.platform is Platform.TELEGRAM:
            chat, message_id = parse_ref(post.ref or post.post_id)
            credit = credit_button(post)
            copied = await call(
                self.bot.copy_message(
                    channel,
                    chat,
                    message_id,
                    reply_markup=InlineKeyboardMarkup([[credit]]),
                    rate_limit_args=AMPLIFY_PATIENCE,
                )
            )
            sent_id = copied.message_id
        elif action is Action.SPOTLIGHT:
            sent = await call(
                self.bot.send_message(
                    channel,
                    to_html(spotlight(post), rules=RULES.with_tags(self.own_tags)),
                    parse_mode=ParseMode.HTML,
                    rate_limit_args=AMPLIFY_PATIENCE,
                )
            )
            sent_id = sent.message_id
        else:
            raise Rejected(f"Telegram cannot {action.value} a {post.platform.value} post")
        return Receipt(Platform.TELEGRAM, action, post_ref(channel, sent_id), chat_link(channel, sent_id))

    async def undo(self, receipt: Receipt) -> None:
        await self.start()
        chat, message_id = parse_ref(receipt.ref)
        try:
            await call(self.bot.delete_message(chat, message_id, rate_limit_args=AMPLIFY_PATIENCE))
        except NotFound:
            return  # already gone: undoing is done
        except Rejected as exc:
            # Telegram deletes a message only within 48 hours of sending it (api#deletemessage),
            # while editing a bot's own message has no documented time limit (api#editmessagetext
            # limits only business messages): an older post is emptied instead. A copied photo's
            # caption is not handled here: that edit is refused and the undo reports it.
            if "can't be deleted" not in str(exc).lower():
                raise
            await self._empty(chat, message_id)

    async def _empty(self, chat: int | str, message_id: int) -> None:
        """Replace a post's text and buttons with :data:`WITHDRAWN`; doing it twice is fine."""
        try:
            await call(
                self.bot.edit_message_text(
                    WITHDRAWN, chat_id=chat, message_id=message_id, rate_limit_args=AMPLIFY_PATIENCE
                )
            )
        except NotFound:
            return
        except Rejected as exc:
            if "not modified" not in str(exc).lower():  # already emptied by an earlier attempt
                raise
        log.info(
            "a post too old to delete was emptied instead",
            extra={"platform": "telegram", "id": post_ref(chat, message_id)},
        )

    async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
        await self.start()
        channel = self._channel()
        text = self.inert(text)  # the last look: whatever a composer let through is made inert here
        if not fits(HTML.visible(text), LIMITS):  # Telegram counts the text its reader sees, tags aside
            raise Rejected("Telegram: a message may be at most 4096 characters (UTF-16 units)")
        reply = None
        if reply_to is not None:
            reply = ReplyParameters(parse_ref(reply_to.ref)[1], allow_sending_without_reply=True)
        sent = await call(
            self.bot.send_message(
                channel,
                text,
                parse_mode=ParseMode.HTML,
                reply_parameters=reply,
                rate_limit_args=AMPLIFY_PATIENCE,
            )
        )
        return Receipt(
            Platform.TELEGRAM,
            Action.PUBLISH,
            post_ref(channel, sent.message_id),
            chat_link(channel, sent.message_id),
        )


def credit_button(post: Post) -> InlineKeyboardButton:
    """Who wrote what the channel copies: the post's author, who for a forward is the original
    author (a copy carries no "forwarded from" of its own) — never the member who forwarded it."""
    name = post.author.display_name or post.author.handle
    if post.author.account_id.startswith(HIDDEN):  # no account to link to: say it is a forward
        return InlineKeyboardButton(f"↪️ Forwarded from {name}"[:60], url=post.url)
    return InlineKeyboardButton(f"✍️ {name}"[:60], url=post.author.url or post.url)


def spotlight(post: Post) -> Doc:
    """A short card about a post from another platform: who, what (cut to fit), and the link."""
    platform = post.platform.value.capitalize()
    name = post.author.display_name or post.author.handle
    text_style: Style = "spoiler" if post.content_warning else "quote"
    url = safe_url(post.url)
    return Doc.of(
        (Span(f"🔦 From the community on {platform}", "bold"),),
        (
            Span(name, "bold", untrusted=True),
            Span(f" ({post.author.handle})", untrusted=True) if post.author.display_name else Span(""),
        ),
        (Span("Content warning: "), Span(post.content_warning, untrusted=True))
        if post.content_warning
        else None,
        (Span(post.text, text_style, untrusted=True, cuttable=True),),
        (Span(f"Read it on {platform}: "), Span(post.url, url=url)) if url else None,
    )


def create(settings: TelegramSettings, app: Settings) -> TelegramAdapter:
    budget = SenderBudget(app.trust.requests_per_sender, timedelta(minutes=app.trust.requests_window_minutes))
    adapter = TelegramAdapter(
        build_application(settings, SystemClock()),
        settings,
        community=app.community.name,
        sender_budget=budget,
    )
    adapter.own_tags = own_tags(app)
    return adapter
