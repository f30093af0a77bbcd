"""Original posts: a curator writes a post or thread for the central account, sees it as each
platform will show it, and it goes out once approved (as many approvals as an amplification),
at its time or now, through the series' publisher. Every operation is here once; the command line
and the web console only present it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain import Platform
from bot.errors import QueueError
from bot.ops import original_messages as say
from bot.ops.curators import unknown_curator
from bot.ops.result import Result, done, refused, usage
from bot.ports import PlatformCatalog
from bot.series.original_runner import OriginalWriter
from bot.series.original_text import MAX_TEXT, PlatformFit
from bot.series.originals import STATES, OriginalBook, OriginalView
from bot.store.store import Store
from bot.trust.curator_names import names_a_curator
from bot.trust.veto import is_frozen

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    """An original as each platform would publish it now."""

    platforms: tuple[PlatformFit, ...]
    fits: bool  # on every platform
    problems: tuple[str, ...]  # what stops it from being written as it is


@dataclass(frozen=True)
class Original:
    """An original post, where it stands, and how it reads on each of its platforms."""

    post: OriginalView
    preview: Preview
    frozen: bool


@dataclass(frozen=True)
class Originals:
    items: tuple[OriginalView, ...]
    frozen: bool


@dataclass(frozen=True)
class Deps:
    """What the operations on original posts need, passed in by the face that calls them."""

    store: Store
    settings: Settings
    catalog: PlatformCatalog  # each platform's limits, markup and inert rules

    @property
    def book(self) -> OriginalBook:
        return OriginalBook(self.store, self.settings.curation.approvals_required)

    @property
    def writer(self) -> OriginalWriter:
        return OriginalWriter(self.settings, self.catalog)


def _platforms(settings: Settings, names: Sequence[str] | None) -> tuple[Platform, ...] | str:
    """The platforms named (every enabled one when none are), or why they cannot be."""
    enabled = settings.enabled_platforms()
    if not names:
        return tuple(enabled)
    chosen: list[Platform] = []
    for name in names:
        found = next((p for p in enabled if p.value == name.strip().lower()), None)
        if found is None:
            return say.unknown_platform(name, [p.value for p in enabled])
        if found not in chosen:
            chosen.append(found)
    return tuple(chosen)


def _preview(deps: Deps, text: str, platforms: Sequence[Platform]) -> Preview:
    fits = tuple(deps.writer.fit(text, p) for p in platforms)
    problems: list[str] = []
    if not text.strip():
        problems.append(say.empty_text())
    elif len(text) > MAX_TEXT:
        problems.append(say.too_long(MAX_TEXT))
    elif not all(f.fits for f in fits):
        problems.append(say.does_not_fit(fits))
    curator = names_a_curator(text, deps.settings)
    if curator is not None:
        problems.append(say.names_curator(curator))
    return Preview(fits, all(f.fits for f in fits), tuple(problems))


def preview(deps: Deps, text: str, platforms: Sequence[str] | None = None) -> Result[Preview]:
    """How ``text`` reads on each platform, whether it fits, and what would stop it; done even
    when it does not fit (that is what a preview is for), usage for an unknown platform."""
    chosen = _platforms(deps.settings, platforms)
    if isinstance(chosen, str):
        return usage(chosen)
    if len(text) > MAX_TEXT:  # not measured at all: a preview is asked for at every keystroke
        return done(say.too_long(MAX_TEXT), Preview((), False, (say.too_long(MAX_TEXT),)))
    found = _preview(deps, text, chosen)
    lines = [say.fit_line(f) for f in found.platforms] + list(found.problems)
    return done("\n".join(lines), found)


def _original(deps: Deps, post: OriginalView) -> Original:
    return Original(post, _preview(deps, post.text, post.platforms), is_frozen(deps.store))


def _when(now: datetime, at: datetime | None, send_now: bool) -> datetime | str | None:
    if send_now:
        return now
    if at is not None and at < now:
        return say.in_the_past(at)
    return at


def new(
    deps: Deps,
    now: datetime,
    curator: str,
    text: str,
    *,
    platforms: Sequence[str] | None = None,
    at: datetime | None = None,
    send_now: bool = False,
    approve: bool = False,
) -> Result[Original]:
    """Write a post or thread; ``approve``: the writer's own approval with it (one of those the
    community requires); ``at`` or ``send_now``: when it goes out once approved."""
    wrong = unknown_curator(deps.settings, curator)
    if wrong is not None:
        return wrong
    chosen = _platforms(deps.settings, platforms)
    if isinstance(chosen, str):
        return usage(chosen)
    due = _when(now, at, send_now)
    if isinstance(due, str):
        return usage(due)
    found = _preview(deps, text, chosen)
    if found.problems:
        return usage("; ".join(found.problems))
    post = deps.book.write(text.strip(), chosen, curator, now, due)
    log.info("original post written", extra={"original": post.id, "curator": curator})
    if approve:
        post = deps.book.approve(post.id, curator, now, "the writer's approval")
    frozen = is_frozen(deps.store)
    return done(say.written(post, found.platforms, frozen=frozen), Original(post, found, frozen))


def edit(
    deps: Deps,
    now: datetime,
    curator: str,
    original_id: int,
    text: str,
    *,
    platforms: Sequence[str] | None = None,
) -> Result[Original]:
    """A new text (and platforms): the approvals given before count no more."""
    wrong = unknown_curator(deps.settings, curator)
    if wrong is not None:
        return wrong
    try:
        before = deps.book.get(original_id)
    except QueueError as exc:
        return refused(str(exc))
    chosen = _platforms(deps.settings, platforms) if platforms else before.platforms
    if isinstance(chosen, str):
        return usage(chosen)
    found = _preview(deps, text, chosen)
    if found.problems:
        return usage("; ".join(found.problems))
    try:
        post = deps.book.edit(original_id, curator, now, text=text.strip(), platforms=chosen)
    except QueueError as exc:
        return refused(str(exc))
    frozen = is_frozen(deps.store)
    return done(say.written(post, found.platforms, frozen=frozen), Original(post, found, frozen))


def _decided(deps: Deps, curator: str, act: str, apply: Callable[[], OriginalView]) -> Result[OriginalView]:
    wrong = unknown_curator(deps.settings, curator)
    if wrong is not None:
        return wrong
    try:
        post = apply()
    except QueueError as exc:
        return refused(str(exc))
    log.info("original post decided", extra={"original": post.id, "action": act, "curator": curator})
    return done(say.status(post, frozen=is_frozen(deps.store)), post)


def approve(
    deps: Deps, now: datetime, curator: str, original_id: int, *, reason: str | None = None
) -> Result[OriginalView]:
    return _decided(deps, curator, "approve", lambda: deps.book.approve(original_id, curator, now, reason))


def reject(
    deps: Deps, now: datetime, curator: str, original_id: int, *, reason: str | None = None
) -> Result[OriginalView]:
    return _decided(deps, curator, "reject", lambda: deps.book.reject(original_id, curator, now, reason))


def cancel(
    deps: Deps, now: datetime, curator: str, original_id: int, *, reason: str | None = None
) -> Result[OriginalView]:
    """Withdraw a post before it is published (once publishing has begun, it is too late)."""
    return _decided(deps, curator, "cancel", lambda: deps.book.cancel(original_id, curator, now, reason))


def schedule(
    deps: Deps,
    now: datetime,
    curator: str,
    original_id: int,
    *,
    at: datetime | None = None,
    send_now: bool = False,
) -> Result[OriginalView]:
    """When it goes out once approved: at ``at``, or now (``send_now``)."""
    if at is None and not send_now:
        return usage("say when: a time, or send it now")
    due = _when(now, at, send_now)
    if isinstance(due, str):
        return usage(due)
    assert due is not None
    return _decided(deps, curator, "schedule", lambda: deps.book.schedule(original_id, curator, now, due))


def show(deps: Deps, original_id: int) -> Result[Original]:
    try:
        post = deps.book.get(original_id)
    except QueueError as exc:
        return refused(str(exc))
    found = _original(deps, post)
    return done(say.written(post, found.preview.platforms, frozen=found.frozen), found)


def listing(deps: Deps, *, states: Sequence[str] = (), limit: int = 50) -> Result[Originals]:
    wrong = [s for s in states if s not in STATES]
    if wrong:
        return usage(f"no state {wrong[0]!r}: choose among {', '.join(STATES)}")
    if limit < 1:
        return usage("--limit must be at least 1")
    items = tuple(deps.book.listing(states, limit=limit))
    return done(say.listed(items), Originals(items, is_frozen(deps.store)))
