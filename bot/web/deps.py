"""What the console's pages work with: the deployment's parts (``WebDeps``, given by whoever
serves the console) and, per request, who is signed in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.requests import Request
from starlette.routing import BaseRoute

from bot.clock import Clock
from bot.config import Settings
from bot.curation.queue import Queue
from bot.ops.result import Result
from bot.ops.web_access import WebSessionView
from bot.store.store import Store

if TYPE_CHECKING:
    from bot.series.runner import SeriesRunner

#: Sends a private message to a curator (her Telegram private chat or a Mastodon direct message);
#: the console's "send me a link" and ``web send-link`` use it. Arguments: curator, text.
PrivateSender = Callable[[str, str], Awaitable[Result[Any]]]


@dataclass(frozen=True)
class Page:
    """One page of the console (a module in ``bot/web/pages/`` exposes ``PAGE = Page(...)``)."""

    name: str  # short id, also the template's ``page`` (the nav marks it current)
    path: str  # where the nav links to
    title_key: str  # the key of its title in ``bot.web.i18n.STRINGS`` or in ``strings``
    routes: Sequence[BaseRoute]
    nav: bool = True  # listed in the navigation
    # the page's own words, key: (English, Spanish), merged into ``bot.web.i18n.STRINGS``
    strings: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class WebDeps:
    """Everything the pages need, given explicitly (the composition root or the CLI builds it)."""

    settings: Settings
    store: Store
    clock: Clock
    queue: Queue | None = None  # None: one is built on the store
    series_runner: Callable[[], SeriesRunner] | None = None  # the series as the pages see them
    secret: str | None = None  # signs cookies; None: ``web.secret`` or the store's own
    send_private: PrivateSender | None = None
    # called (from a worker thread) after a decision made here, so the bot's own views — the
    # Telegram cards, the amplifier — look at once instead of at their next pass
    on_decided: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.queue is None:
            self.queue = Queue(self.store, self.settings)

    @property
    def curation(self) -> Queue:
        assert self.queue is not None
        return self.queue


@dataclass
class WebState:
    """What the app keeps for its requests (``request.app.state.web``)."""

    deps: WebDeps
    secret: str
    templates: jinja2.Environment
    pages: Sequence[Page]
    strings: Mapping[str, tuple[str, str]]
    secure_cookies: bool
    extras: dict[str, Any] = field(default_factory=dict)  # what a page module keeps (its own state)
    untranslated: set[str] = field(default_factory=set)  # words a page asked for that have none


def web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def deps(request: Request) -> WebDeps:
    return web(request).deps


def session(request: Request) -> WebSessionView | None:
    view: WebSessionView | None = request.scope.get("state", {}).get("session")
    return view


def curator(request: Request) -> str:
    """The signed-in curator (the guard lets no one else reach a page)."""
    view = session(request)
    if view is None:
        raise PermissionError("not signed in")
    return view.curator


def now(request: Request) -> datetime:
    return deps(request).clock.now()


#: What a page that needs the series says when the console was started without them.
NO_SERIES = "the series are not set up for this console (no series runner): see `python -m bot web`"


def series(request: Request) -> SeriesRunner | None:
    """The series as the pages see them; None when the console was started without them."""
    build = deps(request).series_runner
    return build() if build is not None else None


def path_id(request: Request, name: str = "id") -> int | None:
    """The row id in the path (``/opportunities/{id}/edit``); None when it is not a plain number
    of a sane length, so a page answers "no such …" instead of failing."""
    text = str(request.path_params.get(name, ""))
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None
