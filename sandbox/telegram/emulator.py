"""Loopback emulator of the Telegram Bot API methods Coalesce uses: the public face (lifecycle,
addresses, and the helpers with which tests play people and read back what the bot did)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Iterable

from sandbox.telegram.entities import _sort_entities, detect_entities
from sandbox.telegram.handlers import TelegramHandlers
from sandbox.telegram.model import (
    JSON,
    ApiCall,
    CallbackAnswer,
    ChatType,
    SandboxChat,
    SandboxUser,
    StoredMessage,
    T,
    Tap,
    _id_of,
    _message_id_of,
    _scope_key,
)


class TelegramSandbox(TelegramHandlers):
    """An in-memory Telegram with one bot, served on 127.0.0.1 for the real python-telegram-bot.

    ``clock`` returns seconds; it stamps message dates and drives flood control, so a test can
    move time by hand instead of sleeping. Flood control is off unless ``realistic_limits`` or
    ``limits`` is given. With ``privacy_mode`` the bot only sees group messages that are
    commands, mentions of it or replies to it, as a bot with privacy mode on does.
    """

    @property
    def token(self) -> str:
        return self._token

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def bot_base_url(self) -> str:
        """What to pass as python-telegram-bot's ``base_url`` (it appends the token itself)."""
        return f"{self.server.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        """What to pass as python-telegram-bot's ``base_file_url``."""
        return f"{self.server.base_url}/file/bot"

    def start(self) -> TelegramSandbox:
        self.server.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._changed()
        self.server.stop()

    def __enter__(self) -> TelegramSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_user(
        self,
        id: int,  # noqa: A002 - the Bot API's own name for it
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
        is_bot: bool = False,
        hide_forwards: bool = False,
        bio: str | None = None,
    ) -> SandboxUser:
        user = SandboxUser(id, first_name, username, last_name, language_code, is_bot, hide_forwards, bio)
        with self._cond:
            self._users[id] = user
            self._changed()
        return user

    def set_bio(self, user: SandboxUser | int, bio: str | None) -> None:
        """The user rewrites their bio (getChat on their private chat shows it from now on)."""
        with self._cond:
            self._known_user(user).bio = bio
            self._changed()

    def add_chat(
        self,
        id: int,  # noqa: A002 - the Bot API's own name for it
        type: ChatType = "supergroup",  # noqa: A002
        title: str | None = None,
        *,
        username: str | None = None,
        description: str | None = None,
        members: Iterable[SandboxUser | int] = (),
        bot_status: str = "administrator",
    ) -> SandboxChat:
        """A chat the bot is in. A private chat's id is its user's id (add the user first)."""
        with self._cond:
            if type == "private":
                user = self._users.get(id)
                if user is None:
                    raise ValueError(f"add_user({id}, ...) before its private chat")
                chat = SandboxChat(
                    id,
                    "private",
                    None,
                    user.username,
                    user.first_name,
                    user.last_name,
                    description,
                    {id: "member", self.bot.id: "member"},
                )
            else:
                chat = SandboxChat(
                    id,
                    type,
                    title or f"Chat {id}",
                    username,
                    description=description,
                    members={self.bot.id: bot_status},
                )
                for member in members:
                    chat.members[_id_of(member)] = "member"
            self._chats[id] = chat
            self._messages.setdefault(id, {})
            self._changed()
            return chat

    def set_member(self, chat: SandboxChat | int, user: SandboxUser | int, status: str = "member") -> None:
        """Set a ChatMember status: creator, administrator, member, restricted, left or kicked."""
        with self._cond:
            self._known_chat(chat).members[_id_of(user)] = status
            self._changed()

    def block_bot(self, chat: SandboxChat | int, blocked: bool = True) -> None:
        """The user blocks the bot: sends to their private chat get 403 from now on."""
        with self._cond:
            self._known_chat(chat).bot_blocked = blocked
            self._changed()

    def user_sends(
        self,
        user: SandboxUser | int,
        chat: SandboxChat | int,
        text: str,
        reply_to: StoredMessage | int | None = None,
        entities: list[JSON] | None = None,
        *,
        via_bot: SandboxUser | int | None = None,
        on_behalf_of: SandboxChat | int | None = None,
    ) -> StoredMessage:
        """A user posts ``text`` in ``chat``; the bot gets a ``message`` (``channel_post``) update.

        Urls, mentions, hashtags and /commands get their entities as Telegram would add them.
        ``via_bot``: sent through that inline bot. ``on_behalf_of``: sent as a chat (the group
        itself for an anonymous admin, or a channel); as in Telegram, ``from`` is then the
        placeholder bot (GroupAnonymousBot or Channel_Bot) and ``sender_chat`` the chat.
        """
        with self._cond:
            sender = self._known_user(user)
            if on_behalf_of is not None:
                anonymous = _id_of(on_behalf_of) == _id_of(chat)
                placeholder = (
                    SandboxUser(1087968824, "Group", "GroupAnonymousBot", is_bot=True)
                    if anonymous
                    else SandboxUser(136817688, "Channel", "Channel_Bot", is_bot=True)
                )
                self._users.setdefault(placeholder.id, placeholder)
                sender = self._users[placeholder.id]
            if _id_of(chat) == sender.id and sender.id not in self._chats:
                self.add_chat(sender.id, "private")
            room = self._known_chat(chat)
            if room.type != "channel":
                room.members.setdefault(sender.id, "member")
            found = _sort_entities([*(entities or []), *detect_entities(text, entities or [])])
            reply_id = _message_id_of(reply_to)
            if reply_id is not None and self._live_message(room.id, reply_id) is None:
                raise ValueError(f"no message {reply_id} in chat {room.id} to reply to")
            behalf = self._known_chat(on_behalf_of).id if on_behalf_of is not None else None
            msg = self._store(
                room,
                text,
                found,
                from_user_id=None if room.type == "channel" else sender.id,
                sender_chat_id=room.id if room.type == "channel" else behalf,
                reply_to_message_id=reply_id,
                via_bot_id=self._known_user(via_bot).id if via_bot is not None else None,
            )
            if self._bot_sees(room, msg):
                kind = "channel_post" if room.type == "channel" else "message"
                self._push_update(kind, self._message_json(msg))
            self._changed()
            return copy.deepcopy(msg)

    def user_forwards(
        self,
        user: SandboxUser | int,
        chat: SandboxChat | int,
        source: StoredMessage,
        *,
        origin: JSON | None = None,
    ) -> StoredMessage:
        """A user forwards ``source`` into ``chat``; the bot gets a ``message`` carrying
        ``forward_origin`` (MessageOriginUser, or HiddenUser when the author hides forwards, Chat
        or Channel), worked out as Telegram does unless ``origin`` gives it."""
        with self._cond:
            sender = self._known_user(user)
            room = self._known_chat(chat)
            original = self._live_message(source.chat_id, source.message_id)
            if original is None:
                raise ValueError(f"no message {source.message_id} in chat {source.chat_id} to forward")
            if room.type != "channel":
                room.members.setdefault(sender.id, "member")
            msg = self._store(
                room,
                original.text,
                copy.deepcopy(original.entities),
                from_user_id=None if room.type == "channel" else sender.id,
                sender_chat_id=room.id if room.type == "channel" else None,
                forward_origin=copy.deepcopy(origin) if origin is not None else self._origin_of(original),
            )
            if self._bot_sees(room, msg):
                kind = "channel_post" if room.type == "channel" else "message"
                self._push_update(kind, self._message_json(msg))
            self._changed()
            return copy.deepcopy(msg)

    def user_edits(self, message: StoredMessage, text: str) -> StoredMessage:
        """The author edits their message; the bot gets ``edited_message`` (``edited_channel_post``)."""
        with self._cond:
            msg = self._live_message(message.chat_id, message.message_id)
            if msg is None or msg.by_bot:
                raise ValueError("only a user's own live message can be edited by the user")
            room = self._chats[msg.chat_id]
            msg.edits.append(msg.text)
            msg.text = text
            msg.entities = _sort_entities(detect_entities(text))
            msg.edit_date = self._now()
            if self._bot_sees(room, msg):
                kind = "edited_channel_post" if room.type == "channel" else "edited_message"
                self._push_update(kind, self._message_json(msg))
            self._changed()
            return copy.deepcopy(msg)

    def user_taps(
        self,
        user: SandboxUser | int,
        message: StoredMessage,
        callback_data: str,
        *,
        check_button: bool = True,
    ) -> Tap:
        """A user taps an inline button; the bot gets a ``callback_query`` update to answer.

        With ``check_button`` (the default) the data must be on one of the message's buttons,
        since Telegram only sends what a button carries.
        """
        with self._cond:
            tapper = self._known_user(user)
            msg = self._live_message(message.chat_id, message.message_id)
            if msg is None:
                raise ValueError(f"message {message.message_id} in chat {message.chat_id} is gone")
            if check_button and callback_data not in msg.callback_data:
                raise ValueError(f"no button with callback_data {callback_data!r} on that message")
            query_id = f"{self.bot.id}{self._next_query:010d}"
            self._next_query += 1
            query: JSON = {
                "id": query_id,
                "from": tapper.to_api(),
                "message": self._message_json(msg),
                "chat_instance": f"{abs(msg.chat_id)}{self.bot.id % 1000:03d}",
                "data": callback_data,
            }
            update_id = self._push_update("callback_query", query)
            tap = Tap(query_id, update_id, tapper.id, msg.chat_id, msg.message_id, callback_data)
            self._open_queries[query_id] = tap
            self._changed()
            return tap

    def messages(
        self, chat: SandboxChat | int, *, by_bot: bool | None = None, include_deleted: bool = True
    ) -> list[StoredMessage]:
        """Messages in a chat, oldest first, as they are now (edits applied, deletions flagged)."""
        with self._cond:
            found = [
                m
                for m in self._messages.get(_id_of(chat), {}).values()
                if (by_bot is None or m.by_bot == by_bot) and (include_deleted or not m.deleted)
            ]
            return copy.deepcopy(found)

    def message(self, chat: SandboxChat | int, message_id: int) -> StoredMessage:
        with self._cond:
            return copy.deepcopy(self._messages[_id_of(chat)][message_id])

    def last_message(self, chat: SandboxChat | int, *, by_bot: bool | None = True) -> StoredMessage | None:
        """The newest live message in a chat (by default the newest the bot sent)."""
        found = self.messages(chat, by_bot=by_bot, include_deleted=False)
        return found[-1] if found else None

    def sent_count(self, chat: SandboxChat | int | None = None) -> int:
        """Messages the bot sent (sendMessage, copyMessage, forwardMessage) to a chat or to all."""
        with self._cond:
            if chat is None:
                return sum(self._sent.values())
            return self._sent.get(_id_of(chat), 0)

    def answer_to(self, tap: Tap) -> CallbackAnswer | None:
        with self._cond:
            return next((a for a in self.alerts if a.query_id == tap.query_id), None)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._cond:
            return [c for c in self.calls if c.method.lower() == method.lower()]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def pending_updates(self) -> int:
        """Updates injected and not yet confirmed by a getUpdates with a higher offset."""
        with self._cond:
            return len(self._updates)

    def pending(self) -> list[JSON]:
        """The updates not yet confirmed, as getUpdates would deliver them (oldest first)."""
        with self._cond:
            return [{"update_id": uid, kind: copy.deepcopy(body)} for uid, kind, body in self._updates]

    @property
    def polls_waiting(self) -> int:
        """getUpdates requests currently held open (long polling)."""
        with self._cond:
            return self._polls_waiting

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every state change); return it.

        Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        with self._cond:
            result = self._cond.wait_for(predicate, timeout)
        if not result:
            raise TimeoutError(f"sandbox condition not met within {timeout}s")
        return result

    async def wait_for_async(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for; the deadline is the point
    ) -> T:
        """Like :meth:`wait_for`, for the event loop: awaits a state change instead of blocking."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = asyncio.Event()
            waiter = (loop, changed)
            with self._cond:
                self._async_waiters.add(waiter)
                result = predicate()
            try:
                if result:
                    return result
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"sandbox condition not met within {timeout}s")
                with contextlib.suppress(TimeoutError):  # then one last look at the predicate
                    await asyncio.wait_for(changed.wait(), remaining)
            finally:
                with self._cond:
                    self._async_waiters.discard(waiter)
