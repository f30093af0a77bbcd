"""What the parts of the Telegram adapter share: the state ``TelegramAdapter.__init__`` sets,
and the calls one part makes into another (the update stream reads members' bios and links)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import Message
from telegram.ext import Application

from adapters.telegram.console import TelegramConsole
from adapters.telegram.profiles import Profiles
from adapters.telegram.settings import TelegramSettings
from bot.clock import Clock
from bot.domain import Author, MemberRequest, Nomination, Platform, Post
from bot.ports import PlatformAdapter
from bot.trust.sender_budget import SenderBudget

log = logging.getLogger(__name__)


@dataclass
class UpdatePage:
    """What one page of updates holds for the member watch."""

    posts: list[Post] = field(default_factory=list)
    nominations: list[Nomination] = field(default_factory=list)
    links: list[tuple[str, Author, Message]] = field(default_factory=list)
    requests: list[MemberRequest] = field(default_factory=list)
    malformed: int = 0
    handed: dict[int, asyncio.Future[bool]] = field(default_factory=dict)  # update id -> applied?
    retried: bool = False  # an update that had failed before is settled now (applied or given up)


class TelegramBase(PlatformAdapter):
    """The Telegram adapter's state, for its parts (``updates.py``, ``members.py``)."""

    application: Application[Any, Any, Any, Any, Any, Any]
    bot: Any
    settings: TelegramSettings
    community: str
    clock: Clock
    console: TelegramConsole | None
    peers: dict[Platform, PlatformAdapter]
    me: Author | None
    profiles: Profiles
    sender_budget: SenderBudget
    _tags: frozenset[str]
    _page: UpdatePage | None
    _started: bool
    _last_poll: float | None
    _applied: set[int]
    _attempts: dict[int, int]
    _replies: set[asyncio.Task[None]]
    _may_answer: Callable[[str], bool] | None

    async def _read_bios(self, page: UpdatePage) -> None:
        raise NotImplementedError  # TelegramMembers

    async def _bio_of(self, author: Author, *, fresh: bool = False) -> str | None:
        raise NotImplementedError  # TelegramMembers

    async def _resolve_links(self, links: Sequence[tuple[str, Author, Message]]) -> list[Nomination]:
        raise NotImplementedError  # TelegramMembers

    def _later(self, request: Any) -> None:
        raise NotImplementedError  # TelegramMembers
