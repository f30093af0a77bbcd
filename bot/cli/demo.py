"""``python -m bot demo``: a believable community on loopback sandboxes, worked end to end.

The same world backs ``run`` when the config says ``sandbox: {enabled: true}``: it is seeded
from a fixed epoch, so re-seeding it later gives the same posts with the same ids, and a person
can carry on by hand with ``run`` and ``queue`` against the demo's database.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml

from adapters.registry import REGISTRY, settings_class
from bot import files
from bot.config import Settings, load
from bot.domain import Platform
from bot.ports import PlatformAdapter

if TYPE_CHECKING:
    from bot.app import Coalesce
    from bot.curation.amplifier import Outcome

CURATOR = "ana"
CURATOR_TELEGRAM = 1001  # ana's Telegram user id: her taps on the cards decide
TG_CURATORS, TG_COMMUNITY, TG_CHANNEL = -1001000000001, -1001000000002, -1001000000003

# (username, display name, profile note)
MEMBERS = [
    ("dra_rivera", "Dra. Sofía Rivera", "Pediatric cardiologist. Mentor. Mamá."),
    ("lupe_md", "Guadalupe Ortiz, MD", "Family medicine resident in El Paso"),
    ("camila_ms3", "Camila Reyes", "MS3 · first-gen · future surgeon"),
    ("dr_paz", "Dra. Valeria Paz", "Emergency physician; public health nerd"),
    ("marisol_pa", "Marisol Vega, PA-C", "Physician assistant, oncology"),
    ("ines_quiet", "Inés Morales", "Neurologist. #nobot — please don't boost my posts"),
    ("spam4u", "Followers 4 U", "Buy followers cheap"),
]

# (author, text, hours ago, reply to index or None)
POSTS: list[tuple[str, str, float, int | None]] = [
    (
        "dra_rivera",
        "Proud to welcome 12 new mentees to our peer mentoring circle! #LatinasInMedicine",
        30,
        None,
    ),
    ("lupe_md", "Matched into family medicine at my first choice program 🎉 #LatinasInMedicine", 26, None),
    ("camila_ms3", "Study group for Step 2 starts Monday, DM me to join #LatinasInMedicine #MedEd", 20, None),
    ("dr_paz", "Hoy di mi primera charla sobre salud pública en español #LatinasEnMedicina", 16, None),
    (
        "marisol_pa",
        "Scholarship for PA students from underrepresented backgrounds closes Dec 15 #LatinasInMedicine",
        12,
        None,
    ),
    ("lupe_md", "Congratulations!! #LatinasInMedicine", 11, 0),
    ("camila_ms3", "So inspiring, thank you for doing this #LatinasInMedicine", 10, 0),
    ("ines_quiet", "New paper out on stroke care access in rural Texas #LatinasInMedicine", 8, None),
    ("spam4u", "Grow your audience fast!! #LatinasInMedicine", 6, None),
    (
        "dra_rivera",
        "Grand rounds today: caring for kids with congenital heart disease #LatinasInMedicine",
        4,
        None,
    ),
    ("dr_paz", "Night shift reflections: the nurses held us together tonight #LatinasInMedicine", 2, None),
    ("marisol_pa", "Looking for a mentor in surgical oncology — ideas welcome #LatinasInMedicine", 1, None),
]

# Bluesky: (handle, display name, profile text), then (author, text, hours ago, reply to or None)
BLUESKY_MEMBERS = [
    ("paz.test", "Dra. Valeria Paz", "Emergency physician; public health nerd"),
    ("camila.test", "Camila Reyes", "MS3 · first-gen · future surgeon"),
    ("lucia.test", "Lucía Herrera, MD", "Internal medicine. #noboost"),
]
BLUESKY_POSTS: list[tuple[str, str, float, int | None]] = [
    (
        "paz.test",
        "Our residency program opened two spots for visiting students 🩺 #LatinasInMedicine",
        9,
        None,
    ),
    (
        "camila.test",
        "Passed Step 1!! Gracias a todas las que me apoyaron 💜 #LatinasEnMedicina",
        5,
        None,
    ),
    ("lucia.test", "Clinic was wild today #LatinasInMedicine", 3, None),
    ("paz.test", "Free webinar on negotiating your first contract, Thursday 7pm ET", 2, None),
    ("camila.test", "@latinasinmed.test this is worth sharing!", 1, 3),
]


@dataclass
class DemoWorld:
    """The sandboxes with the demo community in them."""

    epoch: datetime

    def __post_init__(self) -> None:
        from sandbox.world import Rooms, SandboxWorld

        self.world = SandboxWorld(
            rooms=Rooms(curators=TG_CURATORS, community=TG_COMMUNITY, channel=TG_CHANNEL),
            mastodon={
                "domain": "medicine.example",
                "username": "latinasinmed",
                "display_name": "Latinas in Medicine",
            },
            bluesky={"handle": "latinasinmed.test", "display_name": "Latinas in Medicine"},
            telegram={"bot_username": "LatinasInMedBot", "bot_first_name": "Latinas in Medicine"},
        )
        self.mastodon, self.bluesky, self.telegram = self.world.sandboxes
        self.statuses: list[dict[str, Any]] = []
        self.skeets: list[str] = []

    def start(self) -> DemoWorld:
        self.world.start()
        self._seed()
        return self

    def stop(self) -> None:
        self.world.stop()

    def _seed(self) -> None:
        m = self.mastodon
        accounts = {
            u: m.add_account(u, display_name=d, note=n, created_at=self.epoch - timedelta(days=400))
            for u, d, n in MEMBERS
        }
        for username, text, hours, reply_to in POSTS:
            parent = self.statuses[reply_to] if reply_to is not None else None
            self.statuses.append(
                m.post(
                    accounts[username],
                    text,
                    in_reply_to=parent,
                    created_at=self.epoch - timedelta(hours=hours),
                )
            )
        # A member nominates a post that also carries the hashtag: the same post arrives twice.
        nominee = self.statuses[2]
        m.post(
            accounts["dr_paz"],
            f"@{m.central['acct']} this deserves a boost!",
            in_reply_to=nominee,
            created_at=self.epoch - timedelta(hours=0.5),
        )
        b = self.bluesky
        dids = {h: b.add_account(h, display_name=d, description=n) for h, d, n in BLUESKY_MEMBERS}
        for handle, text, hours, replied in BLUESKY_POSTS:
            above = self.skeets[replied] if replied is not None else None
            when = self.epoch - timedelta(hours=hours)
            self.skeets.append(b.post(dids[handle], text, reply_to=above, created_at=when))
        self._seed_telegram()

    def _seed_telegram(self) -> None:
        """The curators' group (ana and rosa), a community group with members, the channel."""
        t = self.telegram
        ana, rosa = t.add_user(CURATOR_TELEGRAM, "Ana", "ana_curates"), t.add_user(1002, "Rosa", "rosa_rn")
        lupita, sofi, bea = (
            t.add_user(3001, "Lupita", "lupita_md"),
            t.add_user(3002, "Sofi"),
            t.add_user(3003, "Bea", "bea_ms3"),
        )
        t.add_chat(TG_CURATORS, "supergroup", "Latinas in Medicine · curators", members=[ana, rosa])
        t.add_chat(TG_COMMUNITY, "supergroup", "Latinas in Medicine", members=[lupita, sofi, bea])
        t.add_chat(TG_CHANNEL, "channel", "Latinas in Medicine", username="latinasinmed")
        t.user_sends(lupita, TG_COMMUNITY, "Defended my thesis today!! Gracias a todas 💜 #LatinasInMedicine")
        t.user_sends(sofi, TG_COMMUNITY, "Anyone going to the LMSA conference in March?")
        clinic = t.user_sends(
            sofi, TG_COMMUNITY, "Our free clinic needs Spanish-speaking volunteers Saturday"
        )
        t.user_sends(bea, TG_COMMUNITY, "/nominate", reply_to=clinic)

    def adapters(self, settings: Settings) -> dict[Platform, PlatformAdapter]:
        from adapters.mastodon.adapter import MastodonAdapter, client_for
        from adapters.mastodon.settings import MastodonSettings

        cfg = MastodonSettings(
            api_base_url=self.mastodon.base_url, access_token=self.mastodon.token, request_timeout=10
        )
        client = client_for(cfg)
        backfill = timedelta(hours=settings.curation.max_age_hours)
        return {
            Platform.MASTODON: MastodonAdapter(client, cfg, backfill=backfill),
            Platform.BLUESKY: self._bluesky_adapter(backfill),
            Platform.TELEGRAM: self._telegram_adapter(settings),
        }

    def _telegram_adapter(self, settings: Settings) -> PlatformAdapter:
        from adapters.telegram.adapter import TelegramAdapter, build_application
        from adapters.telegram.settings import TelegramSettings
        from bot.clock import SystemClock

        t = self.telegram
        cfg = TelegramSettings(
            bot_token=t.token,
            curator_chat_id=TG_CURATORS,
            community_chat_ids=(TG_COMMUNITY,),
            channel_id=TG_CHANNEL,
            spotlight_on_channel=True,
            base_url=t.bot_base_url,
            poll_timeout=5,
            sync_seconds=5,
        )
        return TelegramAdapter(build_application(cfg, SystemClock()), cfg, community=settings.community.name)

    def _bluesky_adapter(self, backfill: timedelta) -> PlatformAdapter:
        from adapters.bluesky.adapter import BlueskyAdapter, make_client
        from adapters.bluesky.settings import BlueskySettings

        b = self.bluesky
        cfg = BlueskySettings(
            handle="latinasinmed.test",
            app_password=b.password,
            service_url=b.base_url,
            jetstream_url=b.ws_url,
            jetstream_compress=False,
            caught_up_idle_seconds=0.5,
        )
        return BlueskyAdapter(make_client(cfg.service_url, timeout=10), cfg, backfill=backfill)


def demo_config(directory: Path, epoch: datetime) -> dict[str, Any]:
    return {
        "community": {
            "slug": "latinasinmedicine",
            "name": "Latinas in Medicine",
            "hashtags": ["LatinasInMedicine", "LatinasEnMedicina"],
            "languages": ["en", "es"],
        },
        "database": {"url": f"sqlite:///{directory / 'coalesce.db'}"},
        "curators": [{"name": CURATOR, "telegram": CURATOR_TELEGRAM}, {"name": "rosa", "telegram": 1002}],
        "curation": {"max_age_hours": 72},
        "blocklist": {"accounts": ["spam4u@medicine.example"]},
        "amplify": {"max_per_hour": 3600, "burst": 10},
        "series": {
            "timezone": "America/Chicago",
            "schedule": [
                {"name": "digest", "kind": "digest", "cron": "0 9 * * mon"},
                {"name": "interview", "kind": "interview", "cron": "0 12 * * thu"},
            ],
        },
        "sandbox": {"enabled": True, "epoch": epoch.isoformat()},
        # As production names them; the sandbox stands in for the servers and hands out its own
        # credentials, so the ${…} variables need not be set.
        "platforms": {
            "mastodon": {
                "api_base_url": "https://medicine.example",
                "access_token": "${MASTODON_ACCESS_TOKEN}",
            },
            "bluesky": {"handle": "latinasinmed.test", "app_password": "${BLUESKY_APP_PASSWORD}"},
            "telegram": {
                "bot_token": "${TELEGRAM_BOT_TOKEN}",
                "curator_chat_id": TG_CURATORS,
                "community_chat_ids": [TG_COMMUNITY],
                "channel_id": TG_CHANNEL,
                "spotlight_on_channel": True,
            },
        },
    }


def say(text: str = "", end: str = "\n") -> None:
    print(text, end=end, flush=True)


def run_demo(directory: Path) -> int:
    """Start afresh in ``directory`` (its old database goes), then narrate one demo run."""
    if directory.exists():
        shutil.rmtree(directory)
    files.make_private_dir(directory)
    epoch = datetime.now(UTC).replace(microsecond=0)
    config_file = directory / "config.yaml"
    files.write_text(
        config_file,
        "# Written by `python -m bot demo`: the demo community on the built-in sandboxes.\n"
        + yaml.safe_dump(demo_config(directory.resolve(), epoch), sort_keys=False, allow_unicode=True),
    )
    return asyncio.run(_demo(config_file))


async def _demo(config_file: Path) -> int:
    from bot.app import Coalesce

    settings = load(config_file, schemas=settings_class)
    world = world_for(settings)
    central = world.mastodon.central["acct"]
    say(f"1. A pretend Mastodon server is running at {world.mastodon.base_url}.")
    say(f"   {len(MEMBERS)} members post with #LatinasInMedicine; the central account is @{central}.")
    say(f"   A pretend Bluesky (PDS, search and Jetstream) runs at {world.bluesky.base_url}, with")
    say(f"   {len(BLUESKY_MEMBERS)} members posting there too.")
    app = Coalesce(settings, adapters=world.adapters(settings), worker="demo")
    try:
        await app.start()
        say("\n2. Coalesce reads the hashtag timeline and the central account's mentions.")
        # One platform after another, so the same run gives the same candidate ids every time.
        ingested = {
            p: await app.watch_once(p) for p in (Platform.MASTODON, Platform.BLUESKY, Platform.TELEGRAM)
        }
        result = ingested[Platform.MASTODON]
        say(f"   {result.stored} posts stored; {len(result.candidates)} wait for a curator.")
        reasons = {
            "reply": "replies (not queued unless nominated)",
            "opted_out": "from a member with #nobot in her profile",
            "blocked": "from a blocked account",
            "duplicate": "seen twice (hashtag and nomination): kept once",
        }
        for reason, n in sorted(result.skipped.items()):
            say(f"   skipped {n}: {reasons.get(reason, reason)}")
        sky = ingested[Platform.BLUESKY]
        say(f"   On Bluesky: {sky.stored} posts stored, {len(sky.candidates)} wait for a curator", end="")
        say(f" ({sky.skipped.get('opted_out', 0)} from a member with #noboost in her profile).")
        tele = ingested[Platform.TELEGRAM]
        say(f"   On Telegram: {tele.stored} messages stored from the community group (one with the hashtag,")
        say("   one a member nominated by replying /nominate); the group's other chatter is not kept.")
        pending = app.queue.list("pending")
        say("\n3. The queue, as `python -m bot queue list` shows it:")
        for c in pending:
            note = f"  (nominated by {c.nominated_by})" if c.nominated_by else ""
            say(f"   #{c.id:<3} {c.author_name:22} {' '.join(c.text.split())[:58]}{note}")
        approve = [c for c in pending if "mentees" in c.text or "Matched" in c.text]
        reject = [c for c in pending if "Study group" in c.text]
        sky_approve = [c for c in pending if c.platform == "bluesky" and "residency" in c.text]
        tg_approve = [c for c in pending if c.platform == "telegram" and "thesis" in c.text]
        outcomes = await _decide_on_telegram(app, world, pending, approve + sky_approve + tg_approve, reject)
        for o in outcomes:
            say(f"   #{o.candidate_id} {_what_went_out(o.platform, o.action.value)}: {o.detail}")
        boosted = sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses)
        say(f"   The server now shows {boosted} boosts by @{central}.")
        reposted = sum(len(world.bluesky.reposts_of(u)) for u in world.skeets)
        say(f"   Bluesky now shows {reposted} repost by the central account.")
        channel = world.telegram.sent_count(TG_CHANNEL)
        say(f"   The Telegram channel shows {channel} posts: a copy of the approved Telegram message with")
        say("   a button crediting its author, and a spotlight card for each approved Mastodon/Bluesky post.")
        say("\n6. Another cycle: nothing new, and nothing is boosted twice.")
        again = await app.run_once()
        boosted_again = sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses)
        new = again.ingested[Platform.MASTODON].stored
        say(f"   {new} new posts, {len(again.outcomes)} boosts, still {boosted_again} on the server.")
        reposted_again = sum(len(world.bluesky.reposts_of(u)) for u in world.skeets)
        if channel != len(tg_approve) + len(approve) + len(sky_approve):
            say("   Something is wrong: the channel does not match the approvals.")
            return 1
        if reposted != len(sky_approve) or reposted_again != reposted:
            say("   Something is wrong: the reposts do not match the approvals.")
            return 1
        if boosted != len(approve) or boosted_again != boosted:
            say("   Something is wrong: the boosts do not match the approvals.")
            return 1
        wrote = await _series_and_report(app, world, settings, config_file.parent)
    finally:
        await app.stop()
        world.stop()
    cfg = config_file
    say("\nFiles it wrote:")
    for path in wrote:
        say(f"   {path}")
    say("\nCarry on by hand (the sandbox starts again with the same community; the README's")
    say('"Carry on by hand" shows every command, and uses the example files above):')
    say(f"   export COALESCE_CONFIG={cfg}")
    say("   python -m bot queue list")
    say(f"   python -m bot queue approve ID --as {CURATOR}")
    say(f"   python -m bot opportunities import {cfg.parent / 'opportunities.yaml'} --as {CURATOR}")
    say("   python -m bot run --once")
    return 0


def _what_went_out(platform: Platform, action: str) -> str:
    """An amplification in a curator's words: a Telegram channel copy is a copy, not a boost."""
    if action == "spotlight":
        return "spotlight card on the Telegram channel"
    words = {Platform.MASTODON: "boosted on Mastodon", Platform.BLUESKY: "reposted on Bluesky"}
    return words.get(platform, "copied to the Telegram channel")


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


async def _series_and_report(
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
        say(f"   │ {_plain(posted['content'])[:200]}…")

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
    return wrote + _examples(directory, day, next_interview=interview.id + 1)


def _examples(directory: Path, day: date, *, next_interview: int) -> list[Path]:
    """Files for the README's "carry on by hand" commands, to try and to copy: an opportunities
    list to import, the answers to the interview the README's `interviews invite` creates (the
    next one after the demo's), and a curator's shorter wording of that interview."""
    opportunities = directory / "opportunities.yaml"
    files.write_text(
        opportunities,
        "# Opportunities to import: python -m bot opportunities import FILE --as ana\n"
        "# title and url are required; kind, organisation, deadline (YYYY-MM-DD), eligibility\n"
        "# and language are optional. A file with a mistake is refused whole.\n"
        + yaml.safe_dump(
            [
                {
                    "title": "Rotation in global surgery",
                    "url": "https://hospital.example.org/rotations/global-surgery",
                    "kind": "rotation",
                    "organisation": "Example Teaching Hospital",
                    "deadline": day + timedelta(days=21),
                    "eligibility": ["students"],
                },
                {
                    "title": "Award for community health mentors",
                    "url": "https://awards.example.org/mentors",
                    "kind": "award",
                    "deadline": day + timedelta(days=60),
                    "eligibility": ["residents", "attendings"],
                },
            ],
            sort_keys=False,
            allow_unicode=True,
        ),
    )
    answers = directory / "interview-answers.yaml"
    files.write_text(
        answers,
        f"# The answers to interview #{next_interview} (the one the README's `interviews invite` creates),\n"
        "# as a member sends back the file `--write` gave her. A new member's answers can give\n"
        "# name:, language: and handle: instead of interview:.\n"
        + yaml.safe_dump(
            {
                "interview": next_interview,
                "answers": {
                    "role": "Residente de pediatría en Chicago.",
                    "goals": "Abrir una clínica bilingüe para familias migrantes.",
                    "outside": "Correr a la orilla del lago.",
                    "advice": "Guarda tus logros por escrito: te harán falta.",
                },
            },
            sort_keys=False,
            allow_unicode=True,
        ),
    )
    shorter = directory / "shorter.txt"
    files.write_text(
        shorter,
        "Conoce a la Dra. María Pérez, residente de pediatría en Chicago.\n"
        "Sueña con una clínica bilingüe para familias migrantes.\n"
        "Su consejo: guarda tus logros por escrito.\n\n#LatinasInMedicine\n",
    )
    return [opportunities, answers, shorter]


def _plain(html_text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html_text).replace("&amp;", "&").split())


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


def _cards(world: DemoWorld, ids: list[int]) -> dict[int, Any] | None:
    """The newest card of each candidate in the curators' group, once all of them are there."""
    found = {}
    for message in world.telegram.messages(TG_CURATORS, by_bot=True, include_deleted=False):
        for cid in ids:
            if f"candidate #{cid}\n" in message.text:
                found[cid] = message
    return found if len(found) == len(ids) else None


async def _decide_on_telegram(
    app: Coalesce, world: DemoWorld, pending: list[Any], approve: list[Any], reject: list[Any]
) -> list[Outcome]:
    """Curator ana decides by tapping the cards in the emulated curators' group; then the
    amplifier runs, and the cards show what went out."""
    assert app.console is not None
    tg = world.telegram
    console = asyncio.create_task(app.console.run())
    try:
        cards = await tg.wait_for_async(lambda: _cards(world, [c.id for c in pending]), 30)
        say(f"\n4. Each candidate arrives as a card in the curators' Telegram group ({len(cards)} cards).")
        say(f"   Curator {CURATOR!r} decides from her phone, tapping the buttons:")
        for c, label in [(c, "✅ Approve") for c in approve] + [(c, "❌ Reject") for c in reject]:
            button = next(b for b in cards[c.id].buttons if b["text"] == label)
            tg.user_taps(CURATOR_TELEGRAM, cards[c.id], button["callback_data"])
            say(f"   taps {label} on #{c.id} ({c.author_name}, {c.platform})")
        await app.watch_once(Platform.TELEGRAM)  # the bot reads the taps from its update stream
        decided = [c.id for c in approve + reject]

        def settled() -> bool:
            shown = _cards(world, decided)
            return shown is not None and all(not card.buttons for card in shown.values())

        await tg.wait_for_async(settled, 30)
        shown = _cards(world, decided) or {}
        example = shown[approve[0].id].text.splitlines()[-1] if approve else ""
        say(f"   Each card is edited in place and its buttons go away, e.g. “{example}”.")
        say("\n5. The amplifier boosts what was approved, from the central account:")
        outcomes = await app.amplifier.run_due()
        app.console.poke()  # the cards say what went out

        def announced() -> bool:
            shown = _cards(world, [c.id for c in approve])
            return shown is not None and all("📣" in card.text for card in shown.values())

        await tg.wait_for_async(announced, 30)
        return outcomes
    finally:
        console.cancel()
        await asyncio.gather(console, return_exceptions=True)


def world_for(settings: Settings) -> DemoWorld:
    """The sandbox world a ``sandbox: {enabled: true}`` config asks for."""
    epoch = settings.sandbox.epoch or datetime.now(UTC)
    return DemoWorld(epoch).start()
