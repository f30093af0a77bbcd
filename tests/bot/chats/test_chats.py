"""Scheduled chats through the real Mastodon.py on the sandbox: announcements and questions on
time and once (two workers racing, a restart mid-chat), held during a freeze with the curators
told, answers collected by marker and by reply, and the recap with an opted-out participant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from adapters.mastodon.normalize import html_to_text
from bot.chats.compose import compose_slot
from bot.chats.recap import build_recap, to_html, to_markdown
from bot.chats.runner import ChatRunner, answers_of, question_of
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.amplifier import Amplifier
from bot.domain import Platform, TextLimits
from bot.ops import chats as ops
from bot.ops.chats import ChatFields
from bot.ops.result import Outcome
from bot.series.publisher import Publisher
from bot.store import models as m
from bot.store.store import Item, Store
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import central_statuses, mastodon_adapter
from tests.factories import author, post

START = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # 19:00 on 4 March in New York (EST)
FIELDS = ChatFields(
    topic="Mentorship in residency",
    host="Dra. Ruiz",
    tag="LIMchat",
    start="2026-03-04 19:00",
    timezone="America/New_York",
    languages=("en", "es"),
    questions=[
        "0: What did a mentor do for you?",
        "0:es: ¿Qué hizo por ti una mentora?",
        "10: How to find one?",
    ],
)


def _runner(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, worker: str
) -> ChatRunner:
    adapter = mastodon_adapter(sandbox.base_url, clock)
    return ChatRunner(
        store, Publisher(store, {Platform.MASTODON: adapter}, clock, worker=worker), settings, clock
    )


def _to(clock: FakeClock, at: datetime) -> None:
    clock.advance((at - clock.now()).total_seconds())


def _texts(sandbox: MastodonSandbox) -> list[str]:
    return [html_to_text(s["content"]) for s in central_statuses(sandbox)]


@pytest.fixture
def chat_id(store: Store, settings: Settings, clock: FakeClock) -> int:
    result = ops.add_chat(store, settings, FIELDS, by="ana", now=clock.now())
    assert result.outcome is Outcome.DONE, result.message
    assert result.data is not None
    return result.data.id


def test_slots_and_bad_input(store: Store, settings: Settings, clock: FakeClock, chat_id: int) -> None:
    with store.engine.connect() as conn:
        slots = conn.execute(select(m.ChatSlot.key, m.ChatSlot.due_at).order_by(m.ChatSlot.due_at)).all()
    assert [(k, at) for k, at in slots] == [
        ("announce-day", START - timedelta(days=1)),
        ("announce-hour", START - timedelta(hours=1)),
        ("q1", START),
        ("q2", START + timedelta(minutes=10)),
        ("recap", START + timedelta(minutes=70)),
    ]
    late = ops.add_chat(store, settings, FIELDS, by="ana", now=START - timedelta(hours=2))
    assert late.data is not None
    with store.engine.connect() as conn:
        keys = conn.execute(select(m.ChatSlot.key).where(m.ChatSlot.chat_id == late.data.id)).scalars().all()
    assert sorted(keys) == [
        "announce-hour",
        "q1",
        "q2",
        "recap",
    ]  # a day-before announcement is not made late
    for change, says in (
        ({"questions": ["ten: what?"]}, "is not a question"),
        ({"questions": ["0:fr: quoi?"]}, "not one of the chat's languages"),
        ({"questions": ["5:es: ¿qué?"]}, "needs its text in 'en'"),
        ({"languages": ("de",)}, "announcements are written in"),
        ({"start": "2020-01-01 10:00"}, "in the past"),
    ):
        bad = ops.add_chat(
            store, settings, ChatFields(**{**FIELDS.__dict__, **change}), by="ana", now=clock.now()
        )
        assert bad.outcome is Outcome.USAGE
        assert says in bad.message
    assert len(ops.list_chats(store).data or []) == 2


def test_composed_posts_in_both_languages(store: Store, chat_id: int) -> None:
    chat = ops.get_chat(store, chat_id)
    assert chat is not None
    limits = TextLimits(500)
    (day,) = compose_slot(chat, "announce-day", limits)
    assert day.startswith(
        "Tomorrow at 19:00 (America/New_York): our community chat on “Mentorship in residency”"
    )
    assert "Mañana a las 19:00" in day
    (q1,) = compose_slot(chat, "q1", limits)
    assert q1 == (
        "Q1: What did a mentor do for you? Answer with A1 and #limchat, or reply here.\n\n"
        "P1: ¿Qué hizo por ti una mentora? Responde con R1 y #limchat, o contesta aquí."
    )
    (q2,) = compose_slot(chat, "q2", limits)
    assert "P2: How to find one?" in q2  # no translation given: the first language's words
    assert all(len(p) <= 120 for p in compose_slot(chat, "q1", TextLimits(120)))
    assert question_of("A2 a mentor who listens #limchat", chat) == 2
    assert question_of("R1: mi tutora #limchat", chat) == 1
    assert question_of("A7 nothing #limchat", chat) is None
    assert question_of("DATA2 is no marker", chat) is None


async def test_each_slot_once_with_two_workers_and_a_restart(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, chat_id: int
) -> None:
    w1, w2 = (_runner(store, settings, clock, sandbox, w) for w in ("w1", "w2"))
    _to(clock, START - timedelta(days=1, seconds=1))
    assert await w1.run_due() == []
    clock.advance(seconds=1)
    first, second = await asyncio.gather(w1.run_due(), w2.run_due())
    states = [o.state for o in [*first, *second]]
    assert states.count("done") == 1
    assert set(states) - {"done"} <= {"already", "busy"}
    assert len(_texts(sandbox)) == 1
    _to(clock, START)
    first, second = await asyncio.gather(
        w2.run_due(), w1.run_due()
    )  # q1 (the hour's announcement is past grace)
    assert [o.series for o in first if o.state == "done"] + [
        o.series for o in second if o.state == "done"
    ] == [f"chat:{chat_id}:q1"]
    restarted = _runner(store, settings, clock, sandbox, "w1")  # a new process mid-chat
    clock.advance(minutes=10)
    assert [(o.series, o.state) for o in await restarted.run_due()] == [
        (f"chat:{chat_id}:q1", "already"),
        (f"chat:{chat_id}:q2", "done"),
    ]
    texts = _texts(sandbox)
    assert [t.split(":")[0] for t in texts] == ["Tomorrow at 19", "Q1", "Q2"]
    clock.advance(minutes=30)
    assert await restarted.run_due() == []


async def test_a_chat_during_a_freeze_holds_its_questions_and_tells_the_curators(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, chat_id: int
) -> None:
    runner = _runner(store, settings, clock, sandbox, "w1")
    amplifier = Amplifier(store, {}, settings, clock)
    amplifier.freeze("ana", clock.now())
    _to(clock, START)
    held = await runner.run_due()
    assert [o.state for o in held] == ["held"]
    clock.advance(minutes=1)
    assert [o.state for o in await runner.run_due()] == ["held"]
    with store.engine.connect() as conn:
        alerts = conn.execute(select(m.CuratorAlert.key, m.CuratorAlert.text)).all()
    assert len(alerts) == 1
    assert alerts[0].key == f"chat-held:{chat_id}"
    assert "is due while the account is frozen" in alerts[0].text
    assert central_statuses(sandbox) == []
    amplifier.freeze("ana", clock.now(), frozen=False)
    assert [o.state for o in await runner.run_due()] == ["done"]  # within its grace: Q1 goes out
    assert _texts(sandbox)[0].startswith("Q1:")


async def test_answers_by_marker_and_reply_and_the_recap(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, chat_id: int
) -> None:
    runner = _runner(store, settings, clock, sandbox, "w1")
    _to(clock, START)
    (q1,) = await runner.run_due()
    assert q1.state == "done"
    q1_id = central_statuses(sandbox)[0]["id"]
    tags = ("LatinasInMedicine", "limchat")
    now = START + timedelta(minutes=5)
    maria = author("maria@med.example", account_id="11")
    elena = author("elena@med.example", account_id="12")
    rosa = author("rosa@other.example", account_id="13")
    store.ingest(
        Platform.MASTODON,
        [
            Item(
                post("A1 she <b>believed</b> in me #limchat", by=maria, tags=tags, now=now, age=timedelta(0))
            ),
            Item(
                post("R1 mi tutora me abrió puertas #limchat", by=elena, tags=tags, now=now, age=timedelta(0))
            ),
            Item(post("A mentor who listened.", by=rosa, tags=(), now=now, age=timedelta(0), reply_to=q1_id)),
            Item(post("Unrelated #limchat", by=maria, tags=tags, now=now, age=timedelta(0))),
        ],
        now,
    )
    with store.engine.begin() as conn:  # elena keeps her posts to herself
        conn.execute(update(m.Account).where(m.Account.handle == "elena@med.example").values(consent="out"))
    chat = ops.get_chat(store, chat_id)
    assert chat is not None
    assert runner.collect_answers(chat, now) == 3
    assert runner.collect_answers(chat, now) == 0  # each post once
    recap = build_recap(chat, answers_of(store, chat))
    (r1, r2) = recap.questions
    assert [a.handle for a in r1.quoted] == ["maria@med.example", "rosa@other.example"]
    assert r1.withheld == 1
    assert (r2.quoted, r2.withheld) == ((), 0)
    assert recap.participants == {"mastodon": 3}
    assert recap.answers == 3
    md = to_markdown(recap)
    assert "elena" not in md
    assert "mi tutora" not in md
    assert "1 more answer from members who keep their posts to themselves." in md
    assert "A1 she <b>believed</b> in me \\#limchat" not in md  # member text is made inert
    assert "\\<b\\>believed\\</b\\>" in md
    page = to_html(recap)
    assert "&lt;b&gt;believed&lt;/b&gt;" in page
    assert "<b>believed</b>" not in page
    assert "elena" not in page


def test_where_a_chat_stands(store: Store, settings: Settings, clock: FakeClock, chat_id: int) -> None:
    """chat_statuses: scheduled, announced, questions posted, held by a freeze, missed."""

    def status(at: datetime) -> ops.ChatStatus:
        (found,) = ops.chat_statuses(store, at).data or []
        return found

    def published(key: str, state: str = "done") -> None:
        chat = ops.get_chat(store, chat_id)
        assert chat is not None
        with store.engine.begin() as conn:
            conn.execute(
                m.table(m.Publication)
                .insert()
                .values(
                    community_id=store.community_id,
                    series=f"chat:{chat_id}:{key}",
                    slot=chat.slot_times()[key],
                    platform="mastodon",
                    state=state,
                    started_at=clock.now(),
                )
            )

    assert status(clock.now()).state == "scheduled"
    assert status(START - timedelta(hours=23, minutes=50)).slots[0].state == "due"
    assert status(START - timedelta(hours=2)).state == "missed"  # nothing out, its grace passed
    published("announce-day")
    assert status(START - timedelta(hours=2)).state == "announced"
    published("q1")
    later = status(START + timedelta(minutes=5))
    assert (later.state, later.summary) == ("questions", "1 of 2 questions posted")
    assert not later.over
    Amplifier(store, {}, settings, clock).freeze("ana", clock.now())
    held = status(START + timedelta(minutes=11))
    assert held.state == "held"
    assert [s.state for s in held.slots] == ["posted", "held", "posted", "held", "upcoming"]
    assert status(START + timedelta(minutes=80)).over
    assert ops.chat_statuses(store, clock.now(), chat_id=999).outcome is Outcome.REFUSED
