"""The demo's story, steps 7 to 10: a digest edition, an interview from invitation to
publication, a member's opt-out and its undo, and the report for a grant application."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from adapters.registry import REGISTRY
from bot import files
from bot.cli.demo.examples import examples
from bot.cli.demo.output import plain, say
from bot.cli.demo.world import CURATOR, DemoWorld
from bot.config import Settings
from bot.domain import Platform

if TYPE_CHECKING:
    from bot.app import Coalesce


class _At:
    """The scheduler's clock set to one slot: the demo shows what `run` will publish then."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


async def _until(condition: Any, app: Coalesce, cycles: int = 10) -> bool:
    """Run cycles until ``condition()`` holds (each cycle reads the platforms and does the due work)."""
    for _ in range(cycles):
        await app.run_once()
        if condition():
            return True
    return False


async def series_and_report(
    app: Coalesce, world: DemoWorld, settings: Settings, directory: Path
) -> list[Path]:
    """Steps 7 to 10: a digest edition, an interview from invitation to publication, a member's
    opt-out and its undo, and the report for a grant application."""
    from bot.report import chart, render
    from bot.report.compute import build_report
    from bot.series.interviews import check_fit
    from bot.series.opportunities import OpportunityDraft
    from bot.series.runner import SeriesRunner

    now = app.clock.now()
    rules = {r.name: r for r in settings.series.schedule}
    digest_at = app.series.schedule.rules["digest"].next_after(now)[0]
    interview_at = app.series.schedule.rules["interview"].next_after(digest_at)[0]
    zone = ZoneInfo(settings.series.timezone)
    day = digest_at.astimezone(zone).date()

    say("\n7. The weekly opportunity digest. Curator ana puts three opportunities on the list")
    say("   (`python -m bot opportunities add …`); a link's utm_… tracking is left out:")
    drafts = [
        OpportunityDraft(
            "PA scholarship for underrepresented students",
            "https://scholarships.example.org/pa?utm_source=newsletter&utm_medium=email&id=44",
            kind="scholarship",
            organisation="PA Foundation",
            deadline=day + timedelta(days=5),
            eligibility=("students",),
            submitted_by=CURATOR,
        ),
        OpportunityDraft(
            "Summer research fellowship in pediatric cardiology",
            "https://example.edu/summer",
            kind="fellowship",
            organisation="Example University",
            deadline=day + timedelta(days=40),
            eligibility=("residents",),
            submitted_by=CURATOR,
        ),
        OpportunityDraft(
            "Webinar: negotiating your first contract",
            "https://lmsa.example.org/webinar?fbclid=IwAR0demo",
            kind="event",
            submitted_by=CURATOR,
        ),
    ]
    for draft in drafts:
        added = app.series.opportunities.add(draft, now).opportunity
        say(f"   #{added.id} {added.kind:11} {added.url}")
    say(
        f"   The scheduler publishes it {digest_at.astimezone(zone):%a %d %b %H:%M} "
        f"({settings.series.timezone}),"
    )
    say("   in English and in Spanish, on every platform. What the Spanish edition on Bluesky says:")
    spanish = app.series.digest("es", Platform.BLUESKY, day).parts
    for line in "\n\n".join(spanish).splitlines():
        say(f"   │ {line}")
    monday = SeriesRunner(app.store, app.adapters, settings, _At(digest_at), worker="demo", catalog=REGISTRY)
    published = [o for o in await monday.run_due() if o.series.startswith("digest")]
    done = sorted({(o.series, o.platform.value) for o in published if o.state == "done"})
    say(f"   Published: {len(done)} editions ({', '.join(f'{s} on {p}' for s, p in done)}).")

    say("\n8. A mini-interview, from invitation to publication.")
    book = app.series.interviews
    interview = book.invite(
        "Dra. Valeria Paz", language="es", invited_by=CURATOR, now=now, handle="@dr_paz@medicine.example"
    )
    say(f"   ana invites Dra. Valeria Paz (`python -m bot interviews invite …`): interview #{interview.id}.")
    answers = {
        "role": "Médica de urgencias en Houston.",
        "goals": "Más investigación en salud pública en español.",
        "outside": "Bailar salsa y cuidar mis plantas.",
        "advice": "Busca mentoras y pide ayuda pronto.",
    }
    for qid, answer in answers.items():
        book.record_answer(interview.id, qid, answer, now)
    limits = app.series.interview_limits(app.series.platforms(rules["interview"]))
    interview = book.get(interview.id)
    fits = not check_fit(interview.text or "", limits, book.sections(interview))
    say(
        f"   She answers the four questions; the post {'fits' if fits else 'does not fit'} "
        "every platform (280 characters)."
    )
    book.approve(interview.id, by="rosa", now=now, limits=limits)
    say("   rosa approves the text; Dra. Paz reads it and says yes by email:")
    book.confirm(interview.id, now, via=f"cli:{CURATOR} (email)")
    say(
        f"   `python -m bot interviews confirm {interview.id} --as {CURATOR} --via email` "
        "puts it in the queue."
    )
    thursday = SeriesRunner(
        app.store, app.adapters, settings, _At(interview_at), worker="demo", catalog=REGISTRY
    )
    out = [o for o in await thursday.run_due() if o.series == "interview" and o.state == "done"]
    when = interview_at.astimezone(zone)
    say(
        f"   {when:%a %d %b %H:%M}: published on "
        f"{', '.join(sorted(o.platform.value for o in out))}. On Mastodon:"
    )
    statuses = world.mastodon.statuses_by(world.mastodon.central)
    posted = next((s for s in reversed(statuses) if "Paz" in s.get("content", "")), None)
    if posted is not None:
        say(f"   │ {plain(posted['content'])[:200]}…")

    say("\n9. A member opts out, and changes her mind.")
    central = world.mastodon.central["acct"]
    before = sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses)
    world.mastodon.post("lupe_md", f"@{central} optout", visibility="direct")
    await _until(lambda: sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses) < before, app)
    after = sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses)
    say(f"   Guadalupe sends the account “optout”: her boost is taken back ({before} boosts → {after}),")
    say("   and the bot answers her privately saying so. Nothing of hers is amplified from now on.")
    world.mastodon.post("lupe_md", f"@{central} optin", visibility="direct")
    await _until(lambda: _consent_of(app, "lupe_md") == "in", app)
    say(
        f"   She sends “optin”: she takes part again ({_consent_of(app, 'lupe_md')}); "
        "what was taken back stays"
    )
    say("   taken back until a curator approves it again.")

    say("\n10. The community in numbers, for a grant application (`python -m bot report …`):")
    since = (now - timedelta(days=7)).date()
    until = interview_at.date()
    start = datetime.combine(since, datetime.min.time(), UTC)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
    report = build_report(app.store, settings, start, end)
    for line in render.terminal(report).splitlines()[:12]:
        say(f"   {line}")
    png = chart.png(report)
    wrote = [directory / "report.html", directory / "report.png", directory / "report.csv"]
    files.write_text(wrote[0], render.html_page(report, png))
    files.write_bytes(wrote[1], png)
    render.write_csv(report, wrote[2], settings.files.file_mode)
    return wrote + examples(directory, day, next_interview=interview.id + 1)


def _consent_of(app: Coalesce, username: str) -> str:
    """What the consent records say of a demo member on Mastodon now: "out", "in" or "unsaid"."""
    from sqlalchemy import select

    from bot.store import models as m

    with app.store.engine.connect() as conn:
        said = conn.execute(
            select(m.Account.consent).where(
                m.Account.community_id == app.store.community_id,
                m.Account.platform == Platform.MASTODON.value,
                m.Account.handle == f"{username}@medicine.example",
            )
        ).scalar_one_or_none()
    return said or "unsaid"
