"""Scheduled chats, written once for every face: add (with its slots), list, remove."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update

from bot.chats.model import BadChat, ChatView, Question, parse_questions, view_of
from bot.config import Settings
from bot.domain import normalize_tag
from bot.errors import ConfigError
from bot.ops.result import Result, done, refused, usage
from bot.store import models as m
from bot.store.store import Store

LANGUAGES = ("en", "es")  # the languages the announcement templates are written in


@dataclass(frozen=True)
class ChatFields:
    topic: str
    host: str
    tag: str
    start: str  # local "2027-03-04 19:00" in ``timezone``
    timezone: str
    languages: tuple[str, ...] = ("en",)
    questions: list[str] = field(default_factory=list)


def _local(start: str, timezone: str) -> datetime:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadChat(f"{timezone!r} is not a time zone (like America/New_York)") from None
    try:
        naive = datetime.fromisoformat(start)
    except ValueError:
        raise BadChat(f"--start must be a local time like 2027-03-04 19:00, not {start!r}") from None
    if naive.tzinfo is not None:
        raise BadChat("--start is a local time: give the zone with --timezone, not in the time")
    local = naive.replace(tzinfo=zone)
    # A local time that does not exist (skipped by a DST change) or exists twice is refused:
    # a chat should not start at an hour its members cannot agree on.
    if local.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != naive or (
        naive.replace(fold=1).replace(tzinfo=zone).utcoffset() != local.utcoffset()
    ):
        raise BadChat(f"{start} does not exist or happens twice in {timezone} (a clock change): pick another")
    return local


def _checked(
    fields: ChatFields, now: datetime
) -> tuple[tuple[str, ...], str, datetime, tuple[Question, ...]]:
    languages = tuple(dict.fromkeys(lang.strip().casefold() for lang in fields.languages if lang.strip()))
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if not languages or unknown:
        raise BadChat(f"--languages: the announcements are written in {', '.join(LANGUAGES)}")
    if not fields.topic.strip() or not fields.host.strip():
        raise BadChat("a chat needs a topic and a host")
    tag = normalize_tag(fields.tag.strip())
    if not tag or not tag.replace("_", "").isalnum():
        raise BadChat(f"{fields.tag!r} is not a hashtag")
    starts = _local(fields.start, fields.timezone)
    if starts <= now:
        raise BadChat(f"the chat would start in the past ({starts.isoformat()})")
    return languages, tag, starts, parse_questions(fields.questions, languages)


def add_chat(
    store: Store, settings: Settings, fields: ChatFields, *, by: str, now: datetime
) -> Result[ChatView]:
    try:
        settings.curator(by)
    except ConfigError as exc:
        return usage(str(exc))
    try:
        languages, tag, starts, questions = _checked(fields, now)
    except BadChat as exc:
        return usage(str(exc))
    with store.engine.begin() as conn:
        chat_id = conn.execute(
            m.table(m.Chat)
            .insert()
            .values(
                community_id=store.community_id,
                topic=fields.topic.strip(),
                host=fields.host.strip(),
                tag=tag,
                starts_at=starts,
                timezone=fields.timezone,
                languages=" ".join(languages),
                questions=json.dumps([q.as_json() for q in questions], ensure_ascii=False),
                created_by=by,
                created_at=now,
            )
            .returning(m.Chat.id)
        ).scalar_one()
        view = view_of(conn.execute(select(m.table(m.Chat)).where(m.Chat.id == chat_id)).one())
        # An announcement whose time has passed already is left out, not posted late.
        slots = [(key, at) for key, at in view.slot_times().items() if at > now]
        conn.execute(
            m.table(m.ChatSlot).insert(),
            [
                {"community_id": store.community_id, "chat_id": chat_id, "key": k, "due_at": at}
                for k, at in slots
            ],
        )
    local = view.local_start
    return done(
        f'Chat #{chat_id} "{view.topic}" (#{view.tag}) with {view.host}: {local:%Y-%m-%d %H:%M} '
        f"{view.timezone}, {len(view.questions)} question{'s' if len(view.questions) != 1 else ''}.",
        view,
    )


def list_chats(store: Store, *, since: datetime | None = None) -> Result[list[ChatView]]:
    c = m.Chat
    q = select(m.table(c)).where(c.community_id == store.community_id, c.removed_at.is_(None))
    if since is not None:
        q = q.where(c.starts_at >= since)
    with store.engine.connect() as conn:
        found = [view_of(r) for r in conn.execute(q.order_by(c.starts_at, c.id))]
    return done(
        f"{len(found)} chat{'s' if len(found) != 1 else ''}." if found else "No chats scheduled.", found
    )


def remove_chat(store: Store, settings: Settings, chat_id: int, *, by: str, now: datetime) -> Result[None]:
    """Take a chat off the schedule: what it has not posted yet is never posted."""
    try:
        settings.curator(by)
    except ConfigError as exc:
        return usage(str(exc))
    c = m.Chat
    with store.engine.begin() as conn:
        res = conn.execute(
            update(c)
            .where(c.id == chat_id, c.community_id == store.community_id, c.removed_at.is_(None))
            .values(removed_at=now, removed_by=by)
        )
    if not res.rowcount:
        return refused(f"no chat #{chat_id} on the schedule")
    return done(f"Chat #{chat_id} removed: nothing more of it will be posted.")


def get_chat(store: Store, chat_id: int) -> ChatView | None:
    c = m.Chat
    with store.engine.connect() as conn:
        row = conn.execute(
            select(m.table(c)).where(c.id == chat_id, c.community_id == store.community_id)
        ).one_or_none()
    return view_of(row) if row else None
