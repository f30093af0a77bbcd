"""The demo's story, steps 11 and 12: a conference day (a conference, a champion, the badge on a
queued post, the day's highlights thread) and a short community chat (announced, two questions,
answers, the recap thread). Each through bot.ops and the same publishing path as ``run``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.chats.model import ANNOUNCE_DAY, ANNOUNCE_HOUR, RECAP
from bot.chats.runner import ChatRunner
from bot.cli.demo.output import plain, say
from bot.cli.demo.world import CURATOR, DemoWorld
from bot.conference.daily import DailyHighlights, slot_of
from bot.conference.model import ConferenceView
from bot.config import Settings
from bot.domain import Platform
from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from bot.ops import queue as q_ops
from bot.series.publisher import Publisher

if TYPE_CHECKING:
    from bot.app import Coalesce

ZONE = "America/Chicago"
SLOT_WORDS = {ANNOUNCE_DAY: "the day-before announcement", ANNOUNCE_HOUR: "the hour-before reminder"}


class _At:
    """A clock set to one moment: the demo shows what ``run`` does then."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when

    async def sleep(self, seconds: float) -> None:
        return None


def _runner(app: Coalesce, settings: Settings, clock: _At) -> ChatRunner:
    publisher = Publisher(app.store, app.adapters, clock, worker="demo")
    return ChatRunner(app.store, publisher, settings, clock)


async def chat(app: Coalesce, world: DemoWorld, settings: Settings) -> None:
    """Step 12: a chat two days ahead, run slot by slot on the clock of each slot."""
    zone = ZoneInfo(ZONE)
    day = (app.clock.now().astimezone(zone) + timedelta(days=2)).date()
    say("\n12. A community chat. ana schedules one (`python -m bot chats add …`):")
    fields = chat_ops.ChatFields(
        topic="Finding a mentor in residency",
        host="Dra. Sofía Rivera",
        tag="LIMchat",
        start=f"{day} 19:00",
        timezone=ZONE,
        languages=("en", "es"),
        questions=[
            "0: Who was your first mentor, and how did you meet?",
            "0:es: ¿Quién fue tu primera mentora y cómo la conociste?",
            "10: What would you tell a first-year resident looking for one?",
        ],
    )
    added = chat_ops.add_chat(app.store, settings, fields, by=CURATOR, now=app.clock.now())
    say(f"   {added.message}")
    view = added.data
    if view is None:
        return
    times = view.slot_times()
    clock = _At(times[ANNOUNCE_DAY])
    runner = _runner(app, settings, clock)
    for key in (ANNOUNCE_DAY, ANNOUNCE_HOUR, "q1"):
        clock.when = times[key]
        app.gatherings.follow(app.gatherings.current_tags(clock.when))  # as `run` does at that time
        out = [o for o in await runner.run_due() if o.state == "done"]
        what = SLOT_WORDS.get(key, f"question {key.upper()}")
        where = ", ".join(sorted(o.platform.value for o in out))
        say(f"   {clock.when.astimezone(zone):%a %d %b %H:%M}: {what} on {where}.")
    q1 = _latest(world)
    say(f"   │ {q1[:150]}…")
    answers = [
        ("dra_rivera", "A1 My first mentor was the attending who stayed late to teach me echo."),
        ("camila_ms3", "R1 Una residente de cirugía que me encontró en el pasillo 💜"),
        ("marisol_pa", "A1 A PA who answered my cold email, still my mentor ten years later."),
    ]
    for username, text in answers:
        world.mastodon.post(
            username, f"{text} #LIMchat #LatinasInMedicine", created_at=times["q1"] + timedelta(minutes=3)
        )
    await app.watch_once(Platform.MASTODON)  # the answers come in with the hashtag timeline
    clock.when = times["q2"]
    await runner.run_due()
    world.mastodon.post(
        "dr_paz",
        "A2 Ask for one thing at a time, and say thank you. #LIMchat #LatinasInMedicine",
        created_at=times["q2"] + timedelta(minutes=2),
    )
    await app.watch_once(Platform.MASTODON)
    say(
        f"   {clock.when.astimezone(zone):%H:%M}: question Q2. Four members answered (A1, R1 in Spanish, A2)."
    )
    clock.when = times[RECAP]
    out = [o for o in await runner.run_due() if o.state == "done"]
    parts = max((o.total for o in out), default=0)
    say(
        f"   {clock.when.astimezone(zone):%H:%M}: the recap, a thread of {parts} posts on "
        f"{', '.join(sorted(o.platform.value for o in out))}. It begins:"
    )
    recap = [plain(s["content"]) for s in world.mastodon.statuses_by(world.mastodon.central)]
    first_part = next((t for t in recap if t.startswith("Thank you for our chat")), "")
    say(f"   │ {first_part[:190]}…")
    say(f"   `python -m bot chats recap {view.id} --html recap.html` writes its transcript for the website.")
    app.gatherings.follow(app.gatherings.current_tags(app.clock.now()))


async def conference_day(app: Coalesce, world: DemoWorld, settings: Settings) -> None:
    """Step 11: a conference that runs today, a champion, a badged post, the highlights."""
    zone = ZoneInfo(ZONE)
    today = app.clock.now().astimezone(zone).date()
    say("\n11. A conference day. ana adds the conference (`python -m bot conferences add …`):")
    fields = conf_ops.ConferenceFields(
        name="LMSA Annual Conference",
        tag="LMSA27",
        starts_on=today.isoformat(),
        ends_on=(today + timedelta(days=2)).isoformat(),
        timezone=ZONE,
    )
    say(f"   {conf_ops.add_conference(app.store, settings, fields, by=CURATOR, now=app.clock.now()).message}")
    champion = "camila_ms3@medicine.example"
    named = conf_ops.add_champion(
        app.store, settings, "LMSA27", "mastodon", champion, by=CURATOR, now=app.clock.now()
    )
    say(f"   {named.message.split(':')[0]} (`/champion add LMSA27 {champion} mastodon` on Telegram).")
    world.mastodon.post(
        "dr_paz", "Our panel on Latina leadership in emergency medicine is packed! #LMSA27 #LatinasInMedicine"
    )
    await app.watch_once(Platform.MASTODON)
    badged = [c for c in app.queue.list("pending") if c.conference]
    for c in badged:
        say(f"   #{c.id} {c.author_name} waits in the queue with the badge “{c.conference}”.")
        decided = q_ops.approve(app.queue, c.id, champion, app.clock.now())
        say(f"   Camila, the champion, approves it from her card: {decided.message}")
    slot = slot_of(_conference(app), today)
    app.gatherings.follow(app.gatherings.current_tags(slot))  # as `run` does: the tag stays live
    publisher = Publisher(app.store, app.adapters, _At(slot), worker="demo")
    highlights = DailyHighlights(app.store, publisher, settings)
    out = [o for o in await highlights.run_due(slot) if o.state == "done"]
    say(
        f"   {slot.astimezone(zone):%H:%M}: the day's highlights thread on "
        f"{', '.join(sorted(o.platform.value for o in out))}. On Mastodon it says:"
    )
    for line in _latest(world).splitlines()[:4]:
        say(f"   │ {line[:150]}")
    say("   Afterwards: `python -m bot conferences report LMSA27 --html report.html --png report.png`.")


def _conference(app: Coalesce) -> ConferenceView:
    found = conf_ops.show_conference(app.store, "LMSA27").data
    assert found is not None
    return found


def _latest(world: DemoWorld) -> str:
    """The central account's newest status on the Mastodon sandbox, as plain text."""
    statuses = world.mastodon.statuses_by(world.mastodon.central)
    return plain(statuses[0]["content"]) if statuses else ""
