"""The Telegram adapter: one python-telegram-bot Application reads the bot's updates for both
the member watch and the curators' console, and posts to the community channel.

The adapter class is composed of its parts: the update stream (``updates.py``), what it does
for members (``members.py``: posts, nominations, requests and answers in private) and, here,
its lifecycle and acting.

Amplifying copies a member's message to the channel with a credit button, or posts a
spotlight of a post from another platform. Neither can be asked twice safely, so
``amplify_is_idempotent`` is False and an interrupted one is reported, not repeated.
"
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters
from telegram.request import HTTPXRequest

from adapters.telegram.console import TelegramConsole
from adapters.telegram.errors import call, translate
from adapters.telegram.normalize import HIDDEN, chat_link, parse_ref, post_ref, to_author
from adapters.telegram.pacer import Pacer
from adapters.telegram.profiles import Profiles
from adapters.telegram.render import LIMITS, RULES, to_html
from adapters.telegram.settings import TelegramSettings
from bot.clock import Clock, SystemClock
from bot.console.console import COMMANDS, SIGN_IN
from bot.domain import Action, Author, Platform, Post, Receipt
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

from adapters.telegram.base import TelegramBase, UpdatePage
from adapters.telegram.members import TelegramMembers
from adapters.telegram.updates import TelegramUpdates

log = logging.getLogger(__name__)

HTML = Markup("html")
AMPLIFY_PATIENCE = 3.0  # seconds an amplification may wait for Telegram before it is rescheduled
# What a post we can no longer delete is edited to say (api#deletemessage: 48 hours at most).
WITHDRAWN = "This post was withdrawn."


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


class TelegramAdapter(TelegramUpdates, TelegramMembers, TelegramBase):
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
        self._page: UpdatePage | None = None
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

    def _handlers(self) -> None:
        app, cfg = self.application, self.settings
        # Commands and private messages act when sent; an edit of one is not a second request.
        new = filters.UpdateType.MESSAGE
        private = filters.ChatType.PRIVATE & new
        app.add_handler(CallbackQueryHandler(self._on_callback))
        if self.console is not None:
            curators = filters.Chat(chat_id=self.console.chat_id) & new
            app.add_handler(CommandHandler(list(COMMANDS), self.console.on_command, filters=curators))
            # a sign-in link to the web console is asked for, and sent, in the curator's private chat
            app.add_handler(CommandHandler(SIGN_IN, self.console.on_command, filters=private))
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
