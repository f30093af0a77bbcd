"""Running a scheduled chat: each slot (announcements, questions) posted on time on every
platform exactly once, through the series' publisher (its intent row is what makes it once
across workers and restarts); held, and said so to the curators, while the account is frozen;
and the members' answers collected for the recap."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.chats.compose import MARKERS, compose_recap, compose_slot
from bot.chats.model import ANSWERS_AFTER, RECAP, ChatView, view_of
from bot.chats.recap import Answer, Recap, build_recap
from bot.clock import Clock
from bot.config import Settings
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.series.markup import Markup
from bot.series.publisher import Publisher, PublishOutcome
from bot.store import models as m
from bot.store.alerts import alert
from bot.store.store import Store, dialect_insert
from bot.trust.veto import is_frozen

log = logging.getLogger(__name__)

# A slot not out within this long of its time is not posted late: a question would land in the
# next one's minutes, an announcement after what it announces.
QUESTION_GRACE = timedelta(minutes=20)
ANNOUNCE_GRACE = timedelta(minutes=50)
RECAP_GRACE = timedelta(hours=6)  # a recap is still worth reading a little late
LONGEST_GRACE = max(QUESTION_GRACE, ANNOUNCE_GRACE, RECAP_GRACE)


def series_of(chat_id: int, key: str) -> str:
    return f"chat:{chat_id}:{key}"


def grace(key: str) -> timedelta:
    """How long after its time a slot may still go out (the console tells "due" from "missed")."""
    if key == RECAP:
        return RECAP_GRACE
    return QUESTION_GRACE if key.startswith("q") else ANNOUNCE_GRACE


def question_of(text: str, chat: ChatView) -> int | None:
    """The question a post answers by its marker (A2 in English, R2 in Spanish), if any."""
    letters = "".join(sorted({MARKERS[lang] for lang in chat.languages}))
    numbers = {q.number for q in chat.questions}
    for found in re.finditer(rf"(?<![\w#@/])[{letters}]\s?(\d{{1,2}})\b", text, re.IGNORECASE):
        n = int(found[1])
        if n in numbers:
            return n
    return None


class ChatRunner:
    def __init__(self, store: Store, publisher: Publisher, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.publisher = publisher
        self.settings = settings
        self.clock = clock

    def due(self, now: datetime) -> list[tuple[ChatView, str, datetime]]:
        s, c = m.ChatSlot, m.Chat
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(s.key, s.due_at, m.table(c))
                .join(c, c.id == s.chat_id)
                .where(
                    s.community_id == self.store.community_id,
                    c.removed_at.is_(None),
                    s.due_at <= now,
                    s.due_at > now - LONGEST_GRACE,
                )
                .order_by(s.due_at, s.id)
            ).all()
        return [(view_of(r), r.key, r.due_at) for r in rows if now < r.due_at + grace(r.key)]

    async def run_due(self) -> list[PublishOutcome]:
        now = self.clock.now()
        due = await run_sync(self.due, now)
        if not due:
            return []
        if await run_sync(is_frozen, self.store):
            return await run_sync(self._hold, due, now)
        out = []
        for chat, key, slot in due:
            for platform, adapter in self.publisher.adapters.items():

                def compose(
                    chat: ChatView = chat, key: str = key, adapter: PlatformAdapter = adapter
                ) -> list[str]:
                    markup = Markup(adapter.markup, adapter.inert)
                    if key == RECAP:  # composed once per platform, from the answers stored by then
                        self.collect_answers(chat, now)
                        found = build_recap(
                            chat, answers_of(self.store, chat), self.settings.community.consent
                        )
                        return compose_recap(found, adapter.limits, markup)
                    return compose_slot(chat, key, adapter.limits, markup)

                out.append(await self.publisher.publish(series_of(chat.id, key), slot, platform, compose))
        return out

    def recap(self, chat: ChatView, now: datetime) -> Recap:
        """The recap from every answer stored (the last ones collected first)."""
        self.collect_answers(chat, now)
        return build_recap(chat, answers_of(self.store, chat), self.settings.community.consent)

    def next_due(self, now: datetime) -> datetime | None:
        """The time of the next slot after ``now`` (the runner wakes for it, to the second)."""
        s, c = m.ChatSlot, m.Chat
        with self.store.engine.connect() as conn:
            found: datetime | None = conn.execute(
                select(func.min(s.due_at))
                .join(c, c.id == s.chat_id)
                .where(s.community_id == self.store.community_id, c.removed_at.is_(None), s.due_at > now)
            ).scalar_one_or_none()
        return found

    def _hold(self, due: list[tuple[ChatView, str, datetime]], now: datetime) -> list[PublishOutcome]:
        """Nothing goes out while frozen; the curators hear it once per chat."""
        out = []
        for chat, key, slot in due:
            until = slot + grace(key)
            said = alert(
                self.store,
                f"chat-held:{chat.id}",
                f"⏸️ Chat #{chat.id} “{chat.topic}” (#{chat.tag}) is due while the account is frozen: "
                f"its posts are held. Unfreeze within {int(grace(key).total_seconds() // 60)} minutes "
                "of each question's time and it goes out; later ones are not posted late.",
                now,
            )
            if said:
                log.warning("chat held by a freeze", extra={"chat": chat.id, "slot": key})
            for platform in self.publisher.adapters:
                detail = f"frozen: held until unfrozen (at the latest {until.isoformat(timespec='minutes')})"
                out.append(PublishOutcome(series_of(chat.id, key), slot, platform, "held", detail=detail))
        return out

    # -- answers ------------------------------------------------------------------------------

    def _question_posts(self, chat: ChatView) -> dict[tuple[str, str], int]:
        """(platform, platform post id) of each question's published parts -> question number."""
        refs: dict[tuple[str, str], int] = {}
        times = chat.slot_times()
        for q in chat.questions:
            for platform in self.publisher.adapters:
                row = self.publisher.find(series_of(chat.id, f"q{q.number}"), times[f"q{q.number}"], platform)
                if row is not None:
                    for _, ref, _ in self.publisher.parts(row.id):
                        refs[(platform.value, ref)] = q.number
        return refs

    def _own_posts(self, chat: ChatView) -> set[tuple[str, str]]:
        """(platform, platform post id) of every part the account published for ``chat``: its
        announcements and questions carry the chat's tag and markers but answer nothing."""
        own: set[tuple[str, str]] = set()
        for key, at in chat.slot_times().items():
            for platform in self.publisher.adapters:
                row = self.publisher.find(series_of(chat.id, key), at, platform)
                if row is not None:
                    own.update((platform.value, ref) for _, ref, _ in self.publisher.parts(row.id))
        return own

    def collect_answers(self, chat: ChatView, now: datetime) -> int:
        """Store the answers seen so far (a post with the chat tag and a marker, or a reply to a
        question's post); each post once. Returns how many are new."""
        last = chat.last_question
        refs = self._question_posts(chat)
        own = self._own_posts(chat)
        p = m.Post
        with self.store.engine.begin() as conn:
            rows = conn.execute(
                select(p.id, p.platform, p.platform_post_id, p.text, p.hashtags, p.reply_to).where(
                    p.community_id == self.store.community_id,
                    p.created_at >= chat.starts_at,
                    p.created_at <= last + ANSWERS_AFTER,
                    p.deleted.is_(False),
                )
            ).all()
            found = []
            for r in rows:
                if (r.platform, r.platform_post_id) in own:
                    continue
                n = refs.get((r.platform, r.reply_to)) if r.reply_to else None
                if n is None and chat.tag in r.hashtags.split():
                    n = question_of(r.text, chat)
                if n is not None:
                    found.append({"post_id": r.id, "question": n})
            if not found:
                return 0
            res = conn.execute(
                dialect_insert(conn, m.table(m.ChatAnswer))
                .values(
                    [
                        {"community_id": self.store.community_id, "chat_id": chat.id, "found_at": now, **f}
                        for f in found
                    ]
                )
                .on_conflict_do_nothing(index_elements=["chat_id", "post_id"])
                .returning(m.ChatAnswer.id)
            )
            return len(res.all())


def answers_of(store: Store, chat: ChatView) -> list[Answer]:
    """The chat's collected answers with their authors' consent, for the recap."""
    x, p, a = m.ChatAnswer, m.Post, m.Account
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                x.question,
                p.platform,
                a.handle,
                a.display_name,
                p.text,
                p.url,
                p.created_at,
                a.consent,
                a.first_seen,
            )
            .join(p, p.id == x.post_id)
            .join(a, a.id == p.account_id)
            .where(x.chat_id == chat.id, x.community_id == store.community_id, p.deleted.is_(False))
        ).all()
    return [
        Answer(
            r.question,
            r.platform,
            r.handle,
            r.display_name,
            r.text,
            r.url,
            r.created_at,
            r.consent,
            r.first_seen >= chat.starts_at,
        )
        for r in rows
    ]
