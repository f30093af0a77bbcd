"""Who is signed in to the web console: single-use sign-in links, server-side sessions, signing
out (here or everywhere), and the secret that signs session cookies.

Nothing secret is kept in the clear: a link's token and a session's id are stored as SHA-256
hashes, so whoever reads the database can neither sign in nor take over a session."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from sqlalchemy import select, update

from bot.config import Settings
from bot.domain import Author, Platform
from bot.errors import PlatformError
from bot.ops import web_messages as words
from bot.ops.curators import unknown_curator
from bot.ops.result import Result, done, refused, usage
from bot.store import models as m
from bot.store.engine import dialect_insert
from bot.store.store import Store

if TYPE_CHECKING:
    from bot.ports import PlatformAdapter

LINK_LIFETIME = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)  # how stale last_seen_at may be before a request rewrites it
LANGUAGES = ("en", "es")  # the languages the console speaks


@dataclass(frozen=True)
class SignInLink:
    curator: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenedSession:
    """A session just opened: ``session_id`` goes into the cookie (signed) and nowhere else."""

    curator: str
    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class WebSessionView:
    id: int
    curator: str
    csrf_token: str
    language: str | None
    last_seen_at: datetime


def digest(secret_value: str) -> str:
    return hashlib.sha256(secret_value.encode()).hexdigest()


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default``: no scheme, no host, no
    ``//`` or backslash (browsers read ``/\\host`` as ``//host``), no control or space
    characters (browsers drop tabs and newlines, turning ``/\\t/host`` into ``//host``)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc:
        return default
    return target


def sign_in_link(
    store: Store, settings: Settings, curator: str, now: datetime, *, next_path: str | None = None
) -> Result[SignInLink]:
    """A single-use link that signs ``curator`` in within 15 minutes (then lands on ``next_path``)."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    token = secrets.token_urlsafe(32)
    expires = now + LINK_LIFETIME
    with store.engine.begin() as conn:
        conn.execute(
            m.table(m.WebSignInLink)
            .insert()
            .values(
                community_id=store.community_id,
                curator=curator,
                token_hash=digest(token),
                created_at=now,
                expires_at=expires,
            )
        )
    url = f"{settings.web.address}/sign-in/{token}"
    target = local_path(next_path, "")
    if target:
        url += "?next=" + quote(target, safe="/")
    return done(words.link_made(curator, url, expires), SignInLink(curator, url, expires))


def redeem(store: Store, settings: Settings, token: str, now: datetime) -> Result[OpenedSession]:
    """Use a sign-in link: once, before it expires, for a curator still in the config. Opens a
    session whose id and form token are fresh random values."""
    links = m.table(m.WebSignInLink)
    hashed = digest(token)
    with store.engine.begin() as conn:
        row = conn.execute(
            select(links.c.id, links.c.curator, links.c.expires_at, links.c.used_at).where(
                links.c.community_id == store.community_id, links.c.token_hash == hashed
            )
        ).first()
        if row is None:
            return refused(words.LINK_UNKNOWN)
        if row.used_at is not None:
            return refused(words.LINK_USED)
        if row.expires_at <= now:
            return refused(words.LINK_EXPIRED)
        if unknown_curator(settings, row.curator) is not None:
            return refused(words.NOT_A_CURATOR_ANY_MORE)
        # The used_at condition makes two redemptions racing for one link open one session.
        taken = conn.execute(
            update(links).where(links.c.id == row.id, links.c.used_at.is_(None)).values(used_at=now)
        )
        if taken.rowcount != 1:
            return refused(words.LINK_USED)
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        conn.execute(
            m.table(m.WebSession)
            .insert()
            .values(
                community_id=store.community_id,
                curator=row.curator,
                session_hash=digest(session_id),
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
            )
        )
    return done(words.signed_in(row.curator), OpenedSession(row.curator, session_id, csrf))


def session(store: Store, settings: Settings, session_id: str, now: datetime) -> Result[WebSessionView]:
    """The signed-in session with this id, if it is still open: not signed out, used within
    ``web.session_idle_minutes``, its curator still configured. Using it keeps it alive."""
    sessions = m.table(m.WebSession)
    idle = timedelta(minutes=settings.web.session_idle_minutes)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(sessions).where(
                sessions.c.community_id == store.community_id,
                sessions.c.session_hash == digest(session_id),
                sessions.c.revoked_at.is_(None),
            )
        ).first()
    if row is None or now - row.last_seen_at > idle or unknown_curator(settings, row.curator):
        return refused(words.SESSION_GONE)
    if now - row.last_seen_at > TOUCH_EVERY:
        with store.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.id == row.id).values(last_seen_at=now))
    view = WebSessionView(row.id, row.curator, row.csrf_token, row.language, now)
    return done(words.signed_in(row.curator), view)


def sign_out(store: Store, session_id: str, now: datetime) -> Result[int]:
    sessions = m.table(m.WebSession)
    with store.engine.begin() as conn:
        closed = conn.execute(
            update(sessions)
            .where(
                sessions.c.community_id == store.community_id,
                sessions.c.session_hash == digest(session_id),
                sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        ).rowcount
    return done(words.SIGNED_OUT, closed)


def sign_out_everywhere(store: Store, settings: Settings, curator: str, now: datetime) -> Result[int]:
    """Close every open session of ``curator``, in every browser."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    sessions = m.table(m.WebSession)
    with store.engine.begin() as conn:
        closed = conn.execute(
            update(sessions)
            .where(
                sessions.c.community_id == store.community_id,
                sessions.c.curator == curator,
                sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        ).rowcount
    return done(words.signed_out_everywhere(curator, closed), closed)


def set_language(store: Store, session_pk: int, language: str) -> Result[str]:
    if language not in LANGUAGES:
        return usage(f"unknown language {language!r} (expected one of: {', '.join(LANGUAGES)})")
    sessions = m.table(m.WebSession)
    with store.engine.begin() as conn:
        conn.execute(update(sessions).where(sessions.c.id == session_pk).values(language=language))
    return done(language, language)


def signing_secret(store: Store, settings: Settings, now: datetime) -> str:
    """``web.secret`` from the config, else this deployment's own, generated once and kept in the
    database (so every worker signs alike, and a cookie from another deployment fails)."""
    if settings.web.secret:
        return settings.web.secret
    kept = m.table(m.WebSecret)
    with store.engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, kept)
            .values(community_id=store.community_id, secret=secrets.token_urlsafe(48), created_at=now)
            .on_conflict_do_nothing(index_elements=["community_id"])
        )
        value: str = conn.execute(
            select(kept.c.secret).where(kept.c.community_id == store.community_id)
        ).scalar_one()
    return value


async def send_sign_in_link(
    store: Store,
    settings: Settings,
    curator: str,
    now: datetime,
    adapters: Mapping[Platform, PlatformAdapter],
    *,
    next_path: str | None = None,
) -> Result[str]:
    """Make a sign-in link and send it to ``curator`` in private: her Telegram private chat (her
    configured user id), else a Mastodon direct message to her configured account. The link is
    not in the result: only she sees it."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    person = settings.curator(curator)
    routes: list[tuple[Platform, Author]] = []
    if person.telegram is not None and Platform.TELEGRAM in adapters:
        who = str(person.telegram)
        routes.append((Platform.TELEGRAM, Author(account_id=who, handle=who, display_name=curator)))
    if person.mastodon and Platform.MASTODON in adapters:
        handle = person.mastodon.lstrip("@")
        routes.append((Platform.MASTODON, Author(account_id=handle, handle=handle, display_name=curator)))
    if not routes:
        return refused(words.NO_PRIVATE_ROUTE)
    made = await asyncio.to_thread(sign_in_link, store, settings, curator, now, next_path=next_path)
    if not made.ok or made.data is None:
        return Result(made.outcome, made.message)
    text = words.link_message(settings.community.name, made.data.url)
    failures: list[str] = []
    for platform, author in routes:
        try:
            receipt = await adapters[platform].send_direct(author, text)
        except PlatformError as exc:
            failures.append(f"{platform.value}: {exc}")
            continue
        if receipt is not None:
            return done(words.link_sent(curator, platform.value), platform.value)
        failures.append(f"{platform.value}: cannot send private messages")
    return refused(words.link_not_sent(curator, failures))
