"""The Telegram sandbox's state: users, chats, messages and the update queue behind one condition,
and the rules that change them (who the bot sees, flood control, confirming updates)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox._server import HttpError, LoopbackServer, Router
from sandbox.telegram import rules
from sandbox.telegram.faults import TelegramFaults
from sandbox.telegram.model import (
    DEFAULT_TOKEN,
    JSON,
    ApiCall,
    CallbackAnswer,
    FloodControl,
    FloodLimits,
    SandboxChat,
    SandboxUser,
    StoredMessage,
    Tap,
    _id_of,
    _too_many_requests,
)


class TelegramState:
    """Everything the server knows, behind one lock; the HTTP layers read and change it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "CoalesceBot",
        bot_first_name: str = "Coalesce",
        realistic_limits: bool = False,
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.time,
        privacy_mode: bool = False,
        port: int = 0,
    ) -> None:
        bot_id, sep, _ = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError("a bot token looks like '<bot id>:<secret>'")
        self._token = token
        self._clock = clock
        self._privacy_mode = privacy_mode
        self.bot = SandboxUser(int(bot_id), bot_first_name, bot_username, is_bot=True)
        chosen = limits if limits is not None else (FloodLimits() if realistic_limits else None)
        self._flood = FloodControl(chosen) if chosen is not None else None

        self._cond = threading.Condition(threading.RLock())
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stopping = False
        self._users: dict[int, SandboxUser] = {self.bot.id: self.bot}
        self._chats: dict[int, SandboxChat] = {}
        self._messages: dict[int, dict[int, StoredMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[tuple[int, str, JSON]] = []
        self._next_update_id = 500_000_001
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._polls_waiting = 0
        self._open_queries: dict[str, Tap] = {}
        self._next_query = 1
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._sent: dict[int, int] = {}
        self.alerts: list[CallbackAnswer] = []
        self.calls: list[ApiCall] = []
        self.too_many_requests = 0

        self.faults = TelegramFaults(self._count_too_many)
        self.server = LoopbackServer(self._router(), self.faults, port=port)

    def _router(self) -> Router:
        """The routing table; the HTTP layer (handlers.py) fills it in."""
        raise NotImplementedError

    def _changed(self) -> None:
        """Wake every waiter; called with the lock held after any change of state."""
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed; its waiter is gone
                self._async_waiters.discard((loop, event))

    def _count_too_many(self) -> None:
        with self._cond:
            self.too_many_requests += 1
            self._changed()

    def _now(self) -> int:
        return int(self._clock())

    def _known_user(self, user: SandboxUser | int) -> SandboxUser:
        found = self._users.get(_id_of(user))
        if found is None:
            raise ValueError(f"unknown user {_id_of(user)}; add_user() first")
        return found

    def _known_chat(self, chat: SandboxChat | int) -> SandboxChat:
        found = self._chats.get(_id_of(chat))
        if found is None:
            raise ValueError(f"unknown chat {_id_of(chat)}; add_chat() first")
        return found

    def _admit(self, chat: SandboxChat) -> None:
        if self._flood is None:
            return
        retry_after = self._flood.admit(chat, self._clock())
        if retry_after is not None:
            self.too_many_requests += 1
            raise HttpError(429, _too_many_requests(retry_after))

    def _live_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        msg = self._messages.get(chat_id, {}).get(message_id)
        return None if msg is None or msg.deleted else msg

    def _store(self, chat: SandboxChat, text: str, entities: list[JSON], **fields: Any) -> StoredMessage:
        message_id = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = message_id + 1
        msg = StoredMessage(chat.id, message_id, self._now(), text, entities, **fields)
        self._messages.setdefault(chat.id, {})[message_id] = msg
        if msg.by_bot:
            self._sent[chat.id] = self._sent.get(chat.id, 0) + 1
        return msg

    def _bot_sees(self, chat: SandboxChat, msg: StoredMessage) -> bool:
        replied = self._messages[chat.id].get(msg.reply_to_message_id or 0)
        return rules.bot_sees(
            chat_type=chat.type,
            privacy_mode=self._privacy_mode,
            bot=self.bot,
            bot_status=chat.members.get(self.bot.id),
            sender=self._users.get(msg.from_user_id) if msg.from_user_id is not None else None,
            text=msg.text,
            entities=msg.entities,
            replied_by_bot=replied is not None and replied.by_bot,
            last_bot=rules.last_bot_sender(self._messages[chat.id].values(), self._users, msg.message_id),
        )

    def _push_update(self, kind: str, payload: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        if rules.update_wanted(kind, self._allowed_updates):  # filtered as it is made, not as it is read
            self._updates.append((update_id, kind, payload))
        return update_id

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        before = len(self._updates)
        if offset < 0:
            del self._updates[: max(len(self._updates) + offset, 0)]
        else:
            self._updates = [u for u in self._updates if u[0] >= offset]
        if len(self._updates) != before:
            self._changed()

    def _deliverable(self, limit: int) -> list[JSON]:
        return [{"update_id": update_id, kind: payload} for update_id, kind, payload in self._updates[:limit]]
