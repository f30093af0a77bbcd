"""Telegram messages (python-telegram-bot objects) into our domain types. Pure."""

from __future__ import annotations

import re
from typing import Any

from telegram import (
    Chat,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    User,
)

from bot.domain import Author, Platform, Post, normalize_tag
from bot.errors import MalformedPayload


def chat_link(chat: Chat | int | str, message_id: int) -> str:
    """The t.me address of a message: public chats by name, private supergroups and channels
    by their internal id (readable by their members)."""
    username = getattr(chat, "username", None)
    if isinstance(chat, str) and chat.startswith("@"):
        username = chat[1:]
    if username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = chat.id if isinstance(chat, Chat) else int(chat)
    internal = str(chat_id).removeprefix("-100").lstrip("-")
    return f"https://t.me/c/{internal}/{message_id}"


def post_ref(chat_id: int | str, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


def parse_ref(ref: str) -> tuple[int | str, int]:
    """``chat:message`` back into its parts; a channel may be named by ``@name``."""
    chat, _, message = ref.rpartition(":")
    try:
        return (chat if chat.startswith("@") else int(chat)), int(message)
    except ValueError:
        raise MalformedPayload(f"not a Telegram message reference: {ref!r}") from None


def to_author(user: User | None, sender_chat: Chat | None = None) -> Author:
    # A message on behalf of a chat (an anonymous admin, a channel) comes "from" a placeholder bot
    # account (GroupAnonymousBot, Channel_Bot): the chat is who speaks, and it is no bot.
    if sender_chat is not None:
        name = sender_chat.title or sender_chat.username or str(sender_chat.id)
        return Author(
            account_id=str(sender_chat.id),
            handle=f"@{sender_chat.username}" if sender_chat.username else name,
            display_name=name,
            url=f"https://t.me/{sender_chat.username}" if sender_chat.username else None,
            is_group=True,
        )
    if user is None:
        raise MalformedPayload("message has no sender")
    return Author(
        account_id=str(user.id),
        handle=f"@{user.username}" if user.username else f"tg:{user.id}",
        display_name=user.full_name,
        url=f"https://t.me/{user.username}" if user.username else None,
        is_bot=user.is_bot,
    )


def _covered(text: str, offset: int, length: int) -> str:
    """The text an entity covers (offsets in UTF-16 units). An entity that cuts a character in
    half, or runs past the end, gives what it covers (a half character as U+FFFD) instead of the
    UnicodeDecodeError the library raises, which cost the whole message."""
    data = text.encode("utf-16-le", "surrogatepass")
    return data[2 * max(offset, 0) : 2 * max(offset + length, 0)].decode("utf-16-le", "replace")


HIDDEN = "hidden:"  # account ids of forwarded senders who hide their account (no id to know them by)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def repair_text(value: Any) -> Any:
    """``value`` (JSON as parsed) with every lone surrogate replaced by U+FFFD.

    JSON may carry "\\ud800" without its pair; Python then holds a string that cannot be encoded,
    and python-telegram-bot fails on it (entity offsets are read through UTF-16), losing the whole
    message. json.loads already joins real pairs, so any surrogate left is a lone one. U+FFFD is
    one UTF-16 unit like the surrogate it replaces: entity offsets still point at the same text."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, list):
        return [repair_text(v) for v in value]
    if isinstance(value, dict):
        return {repair_text(k): repair_text(v) for k, v in value.items()}
    return value


def origin_author(message: Message) -> Author | None:
    """Who wrote a forwarded message in the first place (None when it is not a forward).

    A sender who hides their account in forwards leaves only a name: the author is then a
    "hidden account" known by that name, never the member who forwarded it."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return to_author(origin.sender_user)
    if isinstance(origin, MessageOriginHiddenUser):
        name = origin.sender_user_name or "someone"
        return Author(account_id=f"{HIDDEN}{name}", handle="hidden account", display_name=name)
    if isinstance(origin, MessageOriginChat):
        return to_author(None, origin.sender_chat)
    if isinstance(origin, MessageOriginChannel):
        author = to_author(None, origin.chat)
        if origin.chat.username:  # the original post itself, for the credit's link
            return Author(
                account_id=author.account_id,
                handle=author.handle,
                display_name=author.display_name,
                url=f"https://t.me/{origin.chat.username}/{origin.message_id}",
                is_group=True,
            )
        return author
    return None


def forwarder_of(message: Message) -> Author | None:
    """The member who forwarded ``message`` into the group, when someone else wrote it."""
    original = origin_author(message)
    if original is None:
        return None
    forwarder = to_author(message.from_user, message.sender_chat)
    return None if forwarder.account_id == original.account_id else forwarder


def hashtags_of(message: Message) -> frozenset[str]:
    found = [
        _covered(text, e.offset, e.length)
        for text, entities in ((message.text, message.entities), (message.caption, message.caption_entities))
        if text
        for e in entities
        if e.type == MessageEntity.HASHTAG
    ]
    return frozenset(normalize_tag(tag) for tag in found) - {""}


def automation_of(message: Message) -> str | None:
    """What made a message automated though its sender is a person: an inline bot it was sent
    through, or Telegram forwarding a linked channel's post into its discussion group."""
    if message.via_bot is not None:
        via = message.via_bot
        return f"sent via {'@' + via.username if via.username else 'the bot ' + str(via.id)}"
    if message.is_automatic_forward:
        return "automatic forward from the linked channel"
    return None


def to_post(message: Message) -> Post:
    """One group message as a Post; raises MalformedPayload naming what is missing."""
    text = message.text or message.caption
    if text is None:
        raise MalformedPayload("message has no text or caption")
    if not isinstance(text, str):
        raise MalformedPayload(f"message text is a {type(text).__name__}")
    if message.date is None:
        raise MalformedPayload("message has no date")
    replied = message.reply_to_message
    # In a forum, every message replies to its topic's first message; that is no conversation.
    is_reply = replied is not None and replied.forum_topic_created is None
    return Post(
        platform=Platform.TELEGRAM,
        post_id=post_ref(message.chat.id, message.message_id),
        url=chat_link(message.chat, message.message_id),
        # A forward is credited to whoever wrote it, never to the member who passed it on.
        author=origin_author(message) or to_author(message.from_user, message.sender_chat),
        text=text,
        created_at=message.date,
        hashtags=hashtags_of(message),
        is_reply=is_reply,
        reply_to=post_ref(message.chat.id, replied.message_id) if replied is not None and is_reply else None,
        ref=post_ref(message.chat.id, message.message_id),
        automated=automation_of(message),
        edited_at=message.edit_date,
    )
