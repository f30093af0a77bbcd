"""The Bot API's documented rules that Coalesce's Telegram flows depend on, for the sandbox.

``sandbox/telegram/`` emulates the methods; this module holds the rules the documentation
states about them (who may delete what and until when, which group messages a bot in privacy
mode is given, how ``allowed_updates`` filters, the length limits of the smaller fields), so
the sandbox refuses what Telegram refuses. The sandbox calls these functions from small hooks.
``RULES`` lists every rule our adapter relies on, with the section of the documentation it
comes from and where the sandbox enforces it; ``tests/fidelity/telegram/`` holds one test per
rule from each side (the sandbox as seen through python-telegram-bot, and our adapter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox._server import HttpError
from sandbox.telegram.model import SandboxUser, StoredMessage

__all__ = [
    "CALLBACK_ANSWER_MAX",
    "CAPTION_MAX",
    "DELETE_WINDOW_SECONDS",
    "RULES",
    "Rule",
    "bot_sees",
    "check_button_url",
    "check_callback_answer",
    "check_caption",
    "check_deletable",
    "check_private_chat",
    "last_bot_sender",
    "start_message",
    "update_wanted",
]

API = "https://core.telegram.org/bots/api"
FAQ = "https://core.telegram.org/bots/faq"
FEATURES = "https://core.telegram.org/bots/features"


@dataclass(frozen=True)
class Rule:
    """One documented rule: what it says, where it is written, where the sandbox holds it."""

    name: str
    says: str
    section: str
    enforced_in: str


RULES: tuple[Rule, ...] = (
    Rule(
        "flood limits",
        "about 1 message a second in a chat, 20 a minute in a group or channel, about 30 a second "
        "in all; over that, 429",
        f"{FAQ}#my-bot-is-hitting-limits-how-do-i-avoid-this",
        "telegram.model.FloodLimits / FloodControl.admit",
    ),
    Rule(
        "retry_after",
        "a 429 carries ResponseParameters.retry_after, the seconds to wait before repeating",
        f"{API}#responseparameters",
        "telegram.model._too_many_requests",
    ),
    Rule(
        "delete within 48 hours",
        "a message can only be deleted if it was sent less than 48 hours ago",
        f"{API}#deletemessage",
        "telegram.rules.check_deletable",
    ),
    Rule(
        "message is not modified",
        "an edit that leaves text, entities and keyboard as they were is refused",
        f"{API}#updating-messages",
        "telegram.handlers._edit_message_text / _edit_message_reply_markup",
    ),
    Rule(
        "text length in UTF-16",
        "a message text is 1-4096 characters after entities parsing, counted in UTF-16 code units",
        f"{API}#sendmessage and {API}#messageentity",
        "telegram.inputs._formatted (MAX_MESSAGE_LENGTH)",
    ),
    Rule(
        "caption length",
        "a caption is 0-1024 characters after entities parsing",
        f"{API}#copymessage",
        "telegram.rules.check_caption",
    ),
    Rule(
        "entity offsets in UTF-16",
        "MessageEntity.offset and length are in UTF-16 code units",
        f"{API}#messageentity",
        "telegram.entities.utf16_len / TextBuilder / detect_entities",
    ),
    Rule(
        "callback_data 1-64 bytes",
        "InlineKeyboardButton.callback_data is 1-64 bytes",
        f"{API}#inlinekeyboardbutton",
        "telegram.inputs._inline_markup",
    ),
    Rule(
        "button URLs",
        "InlineKeyboardButton.url is an HTTP(S) or tg:// link",
        f"{API}#inlinekeyboardbutton",
        "telegram.rules.check_button_url",
    ),
    Rule(
        "callback answer length",
        "answerCallbackQuery text is 0-200 characters",
        f"{API}#answercallbackquery",
        "telegram.rules.check_callback_answer",
    ),
    Rule(
        "allowed_updates",
        "only the kinds listed are sent; an empty list means all but chat_member, message_reaction "
        "and message_reaction_count; the setting does not affect updates created before the call",
        f"{API}#getupdates",
        "telegram.rules.update_wanted (at creation), telegram.handlers._get_updates",
    ),
    Rule(
        "replies to a missing message",
        "a reply to a message that is not there is refused unless allow_sending_without_reply",
        f"{API}#replyparameters",
        "telegram.inputs._reply_target",
    ),
    Rule(
        "confirming updates",
        "an update is confirmed once getUpdates is called with a higher offset",
        f"{API}#getupdates",
        "telegram.state._confirm",
    ),
    Rule(
        "privacy mode",
        "in groups a bot in privacy mode gets commands meant for it, general commands if it was the "
        "last bot to speak, replies to its messages and mentions of it; admins and bots without "
        "privacy mode get every message except other bots'",
        f"{FEATURES}#privacy-mode, {FAQ}#what-messages-will-my-bot-get and "
        f"{FAQ}#why-doesn-39t-my-bot-see-messages-from-other-bots",
        "telegram.rules.bot_sees",
    ),
    Rule(
        "bots cannot start a conversation",
        "a bot can message a person only after the person has started a chat with it",
        "https://core.telegram.org/bots#how-are-bots-different-from-users",
        "telegram.rules.check_private_chat",
    ),
    Rule(
        "deep-link payload",
        "t.me/<bot>?start=<payload> hands the bot /start <payload>; a payload is up to 64 of A-Z a-z 0-9 _ -",
        f"{FEATURES}#deep-linking",
        "telegram.rules.start_message",
    ),
    Rule(
        "forward_origin",
        "a forward carries forward_origin: MessageOriginUser, MessageOriginHiddenUser (the sender "
        "hides forwards), MessageOriginChat (anonymous admin) or MessageOriginChannel",
        f"{API}#messageorigin",
        "telegram.render._origin_of",
    ),
)


def _bad_request(what: str) -> HttpError:
    return HttpError(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {what}"})


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# deleteMessage — core.telegram.org/bots/api#deletemessage

DELETE_WINDOW_SECONDS = 48 * 3600


def check_deletable(sent_at: int, now: int) -> None:
    """Refuse to delete a message sent 48 hours ago or more.

    The documentation lists "A message can only be deleted if it was sent less than 48 hours
    ago" first and without exception; whether an administrator's can_delete_messages lifts it
    in a supergroup is not written down, so the sandbox takes the strict reading, for every chat
    and every sender. The adapter has to cope with the refusal either way.
    """
    if now - sent_at >= DELETE_WINDOW_SECONDS:
        raise _bad_request("message can't be deleted")


# --------------------------------------------------------------------------------------------
# Lengths of the smaller fields

CAPTION_MAX = 1024  # api#copymessage: "New caption for media, 0-1024 characters after entities parsing"
CALLBACK_ANSWER_MAX = 200  # api#answercallbackquery: "text ... 0-200 characters"


def check_caption(caption: str | None) -> None:
    """copyMessage's new caption: at most 1024, in UTF-16 units like every length Telegram counts."""
    if caption is not None and _utf16_units(caption) > CAPTION_MAX:
        raise _bad_request("message caption is too long")


def check_callback_answer(text: str | None) -> None:
    """answerCallbackQuery's notification text: at most 200. The documentation says
    "characters"; Telegram counts every other length in UTF-16 units, and so does the sandbox,
    the stricter of the two readings for text with emoji."""
    if text is not None and _utf16_units(text) > CALLBACK_ANSWER_MAX:
        raise _bad_request("MESSAGE_TOO_LONG")


def check_button_url(button: Mapping[str, Any]) -> None:
    """api#inlinekeyboardbutton: ``url`` is "HTTP or tg:// URL to be opened"; others are refused."""
    url = button.get("url")
    if url is None:
        return
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://", "tg://")):
        raise _bad_request("BUTTON_URL_INVALID")
    if any(c.isspace() for c in url):
        raise _bad_request("BUTTON_URL_INVALID")


# --------------------------------------------------------------------------------------------
# Private chats — core.telegram.org/bots/faq: a bot cannot message a person first


def check_private_chat(user_known: bool, chat_known: bool) -> None:
    """A person Telegram knows who never opened a chat with the bot cannot be written to."""
    if user_known and not chat_known:
        raise HttpError(
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot can't initiate conversation with a user",
            },
        )


# --------------------------------------------------------------------------------------------
# getUpdates' allowed_updates — core.telegram.org/bots/api#getupdates

# Left out unless asked for by name ("Specify an empty list to receive all update types except
# chat_member, message_reaction, and message_reaction_count (default)").
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def update_wanted(kind: str, allowed: frozenset[str] | None) -> bool:
    """Whether an update of ``kind`` is queued for the bot, decided when it is created.

    The filter is the setting in force at that moment: "this parameter doesn't affect updates
    created before the call to getUpdates, so unwanted updates may be received for a short
    period of time" — a bot must cope with kinds it did not ask for.
    """
    return kind in allowed if allowed is not None else kind not in OPT_IN_UPDATES


# --------------------------------------------------------------------------------------------
# Privacy mode — core.telegram.org/bots/features#privacy-mode, bots/faq#what-messages-will-my-bot-get


def last_bot_sender(
    messages: Iterable[StoredMessage], users: Mapping[int, SandboxUser], before: int
) -> int | None:
    """The id of the last bot to send a message in a chat before message ``before``."""
    latest: tuple[int, int] | None = None
    for msg in messages:
        if msg.message_id >= before or msg.from_user_id is None:
            continue
        sender = users.get(msg.from_user_id)
        if sender is not None and sender.is_bot and (latest is None or msg.message_id > latest[0]):
            latest = (msg.message_id, sender.id)
    return latest[1] if latest is not None else None


def bot_sees(
    *,
    chat_type: str,
    privacy_mode: bool,
    bot: SandboxUser,
    bot_status: str | None,
    sender: SandboxUser | None,
    text: str,
    entities: Iterable[Mapping[str, Any]],
    replied_by_bot: bool,
    last_bot: int | None,
) -> bool:
    """Whether the bot is given a message posted in a chat.

    Every bot gets everything in private chats and in channels it is in. In groups, bots never
    see other bots' messages; administrators and bots with privacy mode off see the rest; a bot
    in privacy mode sees only commands meant for it (``/cmd@this_bot``, or a plain ``/cmd`` when
    it was the last bot to speak in the group), replies to its own messages, and messages that
    mention it (BotFather's /setprivacy: "messages that either start with the '/' symbol or
    mention the bot by username").
    """
    if chat_type in ("private", "channel"):
        return True
    if sender is not None and sender.is_bot and sender.id not in CHAT_PLACEHOLDERS:
        return False
    if not privacy_mode or bot_status in ("administrator", "creator"):
        return True
    if replied_by_bot:
        return True
    me = f"@{bot.username}".lower() if bot.username else None
    for entity in entities:
        start, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        covered = _slice_utf16(text, start, length)
        if entity.get("type") == "mention" and me is not None and covered.lower() == me:
            return True
        if entity.get("type") == "bot_command" and start == 0:
            _, at, addressee = covered.partition("@")
            if at:
                if me is not None and f"@{addressee}".lower() == me:
                    return True
            elif last_bot == bot.id:
                return True
    return False


# The accounts Telegram puts in ``from`` when a chat speaks (an anonymous admin, a channel): bots
# get these messages, with the chat in ``sender_chat`` (Bot API, Message.sender_chat).
CHAT_PLACEHOLDERS = frozenset({1087968824, 136817688})  # GroupAnonymousBot, Channel_Bot


def _slice_utf16(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


# --------------------------------------------------------------------------------------------
# Deep links — core.telegram.org/bots/features#deep-linking

_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def start_message(link: str, bot_username: str) -> str:
    """What a person's Telegram app sends the bot on opening ``link`` and tapping Start.

    The payload "can be up to 64 characters long" of "A-Z, a-z, 0-9, _ and -"; the docs do not
    say what becomes of another one, so the sandbox takes the reading that loses it: a bare
    ``/start``, which is what a bot must survive.
    """
    parts = urlsplit(link)
    if parts.scheme != "https" or parts.netloc.lower() not in ("t.me", "telegram.me"):
        raise ValueError(f"not a Telegram link: {link!r}")
    if parts.path.strip("/").lower() != bot_username.lower():
        raise ValueError(f"not a link to @{bot_username}: {link!r}")
    payload = parse_qs(parts.query).get("start", [""])[0]
    return f"/start {payload}" if _START_PAYLOAD.fullmatch(payload) else "/start"
