"""Scheduled chats, written once for every face: add (with its slots), list, where each stands
(what it posted, what a freeze holds), remove."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update

from bot.chats.model import ANSWERS_AFTER, RECAP, BadChat, ChatView, Question, parse_questions, view_of
from bot.chats.runner import grace, series_of
from bot.config import Settings
from bot.domain import normalize_tag
from bot.errors import ConfigError
from bot.ops.result import Result, done, refused, usage
from bot.store import models as m
from bot.store.store import Store
from bot.trust.veto import is_frozen

LANGUAGES = ("en", "es")  # the languages the announcement templates are written in
LONGEST_TOPIC, LONGEST_HOST, LONGEST_TAG = 300, 200, 60  # a line each in an announcement


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
        raise BadChat(f"the start must be a local time like 2027-03-04 19:00, not {start!r}") from None
    if naive.tzinfo is not None:
        raise BadChat("the start is a local time: give its zone as the time zone, not in the time")
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
        raise BadChat(f"languages: the announcements are written in {', '.join(LANGUAGES)} (the first leads)")
    if not fields.topic.strip() or not fields.host.strip():
        raise BadChat("a chat needs a topic and a host")
    for what, value, longest in (("topic", fields.topic, LONGEST_TOPIC), ("host", fields.host, LONGEST_HOST)):
        if len(value.strip()) > longest:
            raise BadChat(f"the {what} is {len(value.strip())} characters: at most {longest}")
    tag = normalize_tag(fields.tag.strip())
    if not tag or not tag.replace("_", "").isalnum() or len(tag) > LONGEST_TAG:
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


# Where one slot of a chat stands.
UPCOMING = "upcoming"  # its time has not come
DUE = "due"  # its time has come and it goes out at the runner's next pass
POSTING = "posting"  # going out now (or a thread stopped part-way, to be resumed)
POSTED = "posted"  # out on at least one platform (``platforms`` says which)
FAILED = "failed"  # a platform refused it for good
SKIPPED = "skipped"  # nothing to post (an empty recap) or withdrawn
HELD = "held"  # due while the account is (or was) frozen: not posted
MISSED = "missed"  # its time and its grace passed with nothing posted (the bot was not running)

SLOT_NAMES = {"announce-day": "the day-before announcement", "announce-hour": "the hour-before announcement"}


@dataclass(frozen=True)
class SlotState:
    key: str  # announce-day | announce-hour | q1 … | recap
    due_at: datetime
    state: str
    platforms: dict[str, str]  # platform -> the state of its publication

    @property
    def name(self) -> str:
        if self.key == RECAP:
            return "the recap"
        return SLOT_NAMES.get(self.key) or self.key.upper()

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "due_at": self.due_at.isoformat(), "state": self.state, **self.platforms}


@dataclass(frozen=True)
class ChatStatus:
    """A chat with where it stands: each slot, the answers stored, and the state in a word."""

    chat: ChatView
    slots: tuple[SlotState, ...]
    answers: int
    frozen: bool  # the account is frozen now: what falls due is held
    over: bool  # its answers are in (the recap's time has come)

    @property
    def questions_posted(self) -> int:
        return sum(s.state == POSTED for s in self.slots if s.key.startswith("q"))

    @property
    def state(self) -> str:
        """held | recap | questions | announced | missed | scheduled: the furthest it went."""
        posted = {s.key for s in self.slots if s.state == POSTED}
        if any(s.state == HELD for s in self.slots):
            return "held"
        if RECAP in posted:
            return "recap"
        if self.questions_posted:
            return "questions"
        if posted:
            return "announced"
        if any(s.state in (MISSED, FAILED) for s in self.slots):
            return "missed"
        return "scheduled"

    @property
    def summary(self) -> str:
        """The state in English (the command line and Telegram; the web says it in its words)."""
        n = len(self.chat.questions)
        return {
            "held": "held by a freeze: what fell due while the account was frozen is not posted",
            "recap": f"over, recap posted ({self.answers} answers)",
            "questions": f"{self.questions_posted} of {n} question{'s' if n != 1 else ''} posted",
            "announced": "announced",
            "missed": "nothing posted: its times passed (was the bot running?)",
            "scheduled": "scheduled, nothing posted yet",
        }[self.state]

    def as_json(self) -> dict[str, object]:
        return {
            **self.chat.as_json(),
            "state": self.state,
            "answers": self.answers,
            "slots": [s.as_json() for s in self.slots],
        }


def _slot_state(key: str, due: datetime, platforms: dict[str, str], held: bool, now: datetime) -> str:
    found = set(platforms.values())
    if found:
        if found <= {"done"}:
            return POSTED
        if found & {"intent", "withdrawing"}:
            return POSTING
        if "done" in found:
            return POSTED
        return FAILED if "failed" in found else SKIPPED
    if due > now:
        return UPCOMING
    if held:
        return HELD
    return DUE if now < due + grace(key) else MISSED


def chat_statuses(store: Store, now: datetime, *, chat_id: int | None = None) -> Result[list[ChatStatus]]:
    """Every chat on the schedule (or the one ``chat_id``), soonest first, with where it stands:
    each slot posted, held by a freeze, missed or still to come, and the answers stored so far."""
    c, s, p, a, alert = m.Chat, m.ChatSlot, m.Publication, m.ChatAnswer, m.CuratorAlert
    community = store.community_id
    with store.engine.connect() as conn:
        q = select(m.table(c)).where(c.community_id == community, c.removed_at.is_(None))
        if chat_id is not None:
            q = q.where(c.id == chat_id)
        chats = [view_of(r) for r in conn.execute(q.order_by(c.starts_at, c.id))]
        ids = [chat.id for chat in chats]
        slots: dict[int, list[tuple[str, datetime]]] = {}
        for slot in conn.execute(
            select(s.chat_id, s.key, s.due_at).where(s.chat_id.in_(ids)).order_by(s.due_at, s.id)
        ):
            slots.setdefault(slot.chat_id, []).append((slot.key, slot.due_at))
        published: dict[str, dict[str, str]] = {}
        for pub in conn.execute(
            select(p.series, p.platform, p.state).where(p.community_id == community, p.series.like("chat:%"))
        ):
            published.setdefault(pub.series, {})[pub.platform] = pub.state
        answers: dict[int, int] = {
            row.chat_id: row.n
            for row in conn.execute(
                select(a.chat_id, func.count().label("n")).where(a.chat_id.in_(ids)).group_by(a.chat_id)
            )
        }
        alerted = set(
            conn.execute(
                select(alert.key).where(alert.community_id == community, alert.key.like("chat-held:%"))
            ).scalars()
        )
        frozen = is_frozen(store, conn)
    out = []
    for chat in chats:
        held = frozen or f"chat-held:{chat.id}" in alerted
        states = []
        for key, due in slots.get(chat.id, []):
            platforms = dict(sorted(published.get(series_of(chat.id, key), {}).items()))
            states.append(SlotState(key, due, _slot_state(key, due, platforms, held, now), platforms))
        over = now >= chat.last_question + ANSWERS_AFTER
        out.append(ChatStatus(chat, tuple(states), answers.get(chat.id, 0), frozen, over))
    if chat_id is not None and not out:
        return refused(f"no chat #{chat_id} on the schedule")
    n = len(out)
    return done(f"{n} chat{'s' if n != 1 else ''}." if out else "No chats scheduled.", out)
