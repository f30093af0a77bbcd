"""The curators' console on Telegram: cards as HTML messages with inline buttons in the
curators' group, taps and commands turned into ``bot.console.console`` events.

Button data is signed (HMAC with a key derived from the bot token, bound to the curators'
chat), so a forged or altered payload is answered and dropped before it reaches the console.

Each tap and command keeps a future that settles once the console has applied it (a decision
recorded, a command done) or failed to: the update stream confirms an update to Telegram only
after that, so a crash or a ``run --once`` that ends never loses a tap.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes, ExtBot

from adapters.telegram.errors import call
from adapters.telegram.render import to_html
from adapters.telegram.settings import TelegramSettings
from bot.domain import Platform
from bot.errors import PlatformError, Rejected
from bot.ports import VERBS, Card, Command, Tap, Timings, Verb
from bot.richtext import Doc

log = logging.getLogger(__name__)

_SIGNATURE_BYTES = 12  # 16 characters of base64: the whole payload stays far under Telegram's 64 bytes
_LETTERS: dict[str, str] = {"approve": "a", "reject": "r", "snooze": "s", "retry": "t"}  # one per verb, kept
ALERT_MAX = 200  # answerCallbackQuery: "0-200 characters", cut in UTF-16 units to be safe with emoji
_BUTTON_SCHEMES = ("https://", "http://", "tg://")  # api#inlinekeyboardbutton: "HTTP or tg:// URL"


class TelegramConsole:
    platform = Platform.TELEGRAM

    def __init__(self, bot: ExtBot[None], settings: TelegramSettings) -> None:
        if settings.curator_chat_id is None:
            raise ValueError("the console needs platforms.telegram.curator_chat_id")
        self.bot = bot
        self.chat_id: int = settings.curator_chat_id
        self.chat = str(self.chat_id)
        self.timings: Timings = settings.timings
        self._key = hashlib.sha256(b"coalesce console buttons\0" + settings.bot_token.encode()).digest()
        self._events: asyncio.Queue[Tap | Command] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[bool]] = {}  # update id -> applied (True) or failed
        self._update_of: dict[int, int] = {}  # id() of an event still being applied -> its update id

    # -- button data ---------------------------------------------------------------------------------

    def _signature(self, verb: str, candidate_id: int) -> str:
        mac = hmac.new(self._key, f"{self.chat_id}:{verb}:{candidate_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:_SIGNATURE_BYTES]).decode()

    def button_data(self, verb: Verb, candidate_id: int) -> str:
        return f"{_LETTERS[verb]}:{candidate_id}:{self._signature(verb, candidate_id)}"

    def read_button(self, data: str | None) -> tuple[Verb, int] | None:
        """The decision a button carries, or None if we did not make that button."""
        try:
            letter, number, signature = (data or "").split(":")
            verb = next(v for v in VERBS if _LETTERS[v] == letter)
            candidate_id = int(number)
        except (ValueError, StopIteration):
            return None
        if not hmac.compare_digest(signature, self._signature(verb, candidate_id)):
            return None
        return verb, candidate_id

    def keyboard(self, card: Card) -> InlineKeyboardMarkup | None:
        rows = []
        for row in card.buttons:
            buttons = []
            for b in row:
                if b.url is not None:
                    # Telegram refuses the whole message for one button with another scheme.
                    if b.url.lower().startswith(_BUTTON_SCHEMES) and not any(c.isspace() for c in b.url):
                        buttons.append(InlineKeyboardButton(b.label, url=b.url))
                elif b.verb is not None and card.candidate_id is not None:
                    buttons.append(
                        InlineKeyboardButton(
                            b.label, callback_data=self.button_data(b.verb, card.candidate_id)
                        )
                    )
            if buttons:
                rows.append(buttons)
        return InlineKeyboardMarkup(rows) if rows else None

    # -- updates, from the adapter's handlers ------------------------------------------------------------

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        decision = self.read_button(query.data)
        message = query.message
        if decision is None or message is None or message.chat.id != self.chat_id:
            log.warning(
                "ignored a button we did not make",
                extra={
                    "platform": "telegram",
                    "user": query.from_user.id,
                    "chat": message.chat.id if message else None,
                },
            )
            await self._answer(query, "This button is not valid any more.", alert=True)
            return
        verb, candidate_id = decision
        self._put(update.update_id, Tap(str(query.from_user.id), verb, candidate_id, handle=query))

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").partition("@")[0].lower()
        args = " ".join(context.args or [])
        private = message.chat.type == ChatType.PRIVATE
        self._put(update.update_id, Command(str(user.id), name, args, handle=message, private=private))

    def _put(self, update_id: int, event: Tap | Command) -> None:
        self._pending[update_id] = asyncio.get_running_loop().create_future()
        self._update_of[id(event)] = update_id
        self._events.put_nowait(event)

    def waiting(self, update_id: int) -> asyncio.Future[bool] | None:
        """The future of an update handed to the console and not yet applied, if any."""
        return self._pending.get(update_id)

    def settled(self, event: Tap | Command, ok: bool) -> None:
        """The console applied ``event`` (or failed to): the first word on it counts."""
        update_id = self._update_of.pop(id(event), None)
        future = self._pending.pop(update_id, None) if update_id is not None else None
        if future is not None and not future.done():
            future.set_result(ok)

    # -- ConsoleFront ----------------------------------------------------------------------------------------

    async def next_event(self) -> Tap | Command:
        return await self._events.get()

    async def send_card(self, card: Card, *, reply_to: str | None = None) -> str:
        reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to else None
        sent = await call(
            self.bot.send_message(
                self.chat_id,
                to_html(card.doc),
                parse_mode=ParseMode.HTML,
                reply_markup=self.keyboard(card),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_parameters=reply,
            )
        )
        return str(sent.message_id)

    async def edit_card(self, message: str, card: Card) -> None:
        try:
            await call(
                self.bot.edit_message_text(
                    to_html(card.doc),
                    chat_id=self.chat_id,
                    message_id=int(message),
                    parse_mode=ParseMode.HTML,
                    reply_markup=self.keyboard(card),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            )
        except Rejected as exc:
            if "not modified" not in str(exc).lower():  # already showing exactly this: fine
                raise

    async def answer(self, tap: Tap, text: str, *, alert: bool) -> None:
        self.settled(tap, True)  # the console answers once the decision is recorded (or refused)
        if isinstance(tap.handle, CallbackQuery):
            await self._answer(tap.handle, text, alert=alert)

    async def _answer(self, query: CallbackQuery, text: str, *, alert: bool) -> None:
        try:
            await call(query.answer(cut_utf16(text, ALERT_MAX), show_alert=alert))
        except PlatformError as exc:  # the spinner times out by itself; the decision stands
            log.info("could not answer a tap", extra={"platform": "telegram", "error": str(exc)})

    def start_link(self, payload: str) -> str | None:
        """``t.me/<bot>?start=<payload>``: opens a private chat with the bot, which then reads
        ``/start <payload>`` (Telegram allows 1-64 of A-Z a-z 0-9 _ - there)."""
        try:
            username = self.bot.username
        except RuntimeError:  # getMe not called yet: the adapter has not started
            return None
        return f"https://t.me/{username}?start={payload}"

    async def reply(self, command: Command, doc: Doc) -> None:
        self.settled(command, True)  # the console replies once the command is done
        message = command.handle
        reply = (
            ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if isinstance(message, Message)
            else None
        )
        # The answer goes where the command was sent: the curators' group, or (/signin) the
        # person's private chat, so nothing meant for one person lands in front of the group.
        chat = message.chat.id if isinstance(message, Message) else self.chat_id
        await call(
            self.bot.send_message(
                chat,
                to_html(doc),
                parse_mode=ParseMode.HTML,
                reply_parameters=reply,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )


def cut_utf16(text: str, limit: int) -> str:
    """The longest start of ``text`` within ``limit`` UTF-16 units, never half an emoji's pair."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text
