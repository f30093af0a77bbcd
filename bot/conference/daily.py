"""Publishing a conference's daily highlights at its local time, once per day and platform,
through the series' publisher (its intent row makes it exactly once across workers and
restarts); and a curator's preview and hold of one day's thread."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select

from bot.conference.highlights import Highlight, compose_highlights
from bot.conference.model import ConferenceView, conference_of, conferences
from bot.config import Settings
from bot.domain import CandidateState, Platform
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.series.markup import Markup
from bot.series.publisher import Publisher, PublishOutcome
from bot.store import models as m
from bot.store.store import Store

# A day's highlights not published within this long of their time (the bot was down) are not
# published late: the next day's thread follows instead.
GRACE = timedelta(hours=6)
APPROVED = (CandidateState.APPROVED.value, CandidateState.AMPLIFIED.value, CandidateState.FAILED.value)
HELD = "held by "  # the note of a slot a curator held: the one kind of "skipped" she may release


def series_of(conference: ConferenceView) -> str:
    return f"conf:{conference.id}:highlights"


def slot_of(conference: ConferenceView, day: date) -> datetime:
    """When ``day``'s highlights go out: the conference's local highlights time, in UTC."""
    local = datetime.combine(day, conference.highlights_at, conference.zone)
    return local.astimezone(UTC)


def days_of(conference: ConferenceView) -> list[date]:
    n = (conference.ends_on - conference.starts_on).days + 1
    return [conference.starts_on + timedelta(days=i) for i in range(n)]


def day_items(store: Store, conference: ConferenceView, day: date) -> list[Highlight]:
    """The conference posts approved during ``day`` (local), with their authors' consent."""
    start, end = conference.day_bounds(day)
    c, p, a = m.Candidate, m.Post, m.Account
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                p.hashtags,
                p.created_at,
                a.handle,
                a.display_name,
                p.url,
                p.text,
                a.consent,
                c.decided_at,
                p.engagement,
            )
            .join(p, p.id == c.post_id)
            .join(a, a.id == p.account_id)
            .where(
                c.community_id == store.community_id,
                c.kind == "post",
                c.state.in_(APPROVED),
                c.decided_at >= start,
                c.decided_at < end,
                p.deleted.is_(False),
            )
        ).all()
    return [
        Highlight(r.handle, r.display_name, r.url, r.text, r.consent, r.decided_at, r.engagement)
        for r in rows
        if conference_of([conference], r.hashtags, r.created_at) is not None
    ]


def hold(
    publisher: Publisher, conference: ConferenceView, day: date, platforms: list[Platform], by: str
) -> list[Platform]:
    """Record ``day``'s highlights as skipped on ``platforms`` before they go out (the slot's
    row is what the publisher honours); the platforms where that was still possible."""
    slot, series = slot_of(conference, day), series_of(conference)
    return [p for p in platforms if publisher.record(series, slot, p, "skipped", f"{HELD}{by}")]


def release(store: Store, conference: ConferenceView, day: date, platforms: list[Platform]) -> list[Platform]:
    """Take back a curator's hold of ``day``'s highlights: the slot's row goes, so the publisher
    composes and posts them at their time as if never held. Only a hold is taken back (a row
    the bot wrote — published, empty, failed — stays); the platforms where there was one."""
    pub = m.Publication
    released = []
    with store.engine.begin() as conn:
        for platform in platforms:
            gone = conn.execute(
                delete(pub).where(
                    pub.community_id == store.community_id,
                    pub.series == series_of(conference),
                    pub.slot == slot_of(conference, day),
                    pub.platform == platform.value,
                    pub.state == "skipped",
                    pub.error.startswith(HELD, autoescape=True),
                )
            )
            if gone.rowcount:
                released.append(platform)
    return released


def states(store: Store, conference: ConferenceView, day: date) -> dict[Platform, str]:
    """Where ``day``'s highlights stand on each platform that has a row: "held" by a curator, or
    the publisher's state (intent while posting, done, empty, failed…); no row: not yet."""
    pub = m.Publication
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(pub.platform, pub.state, pub.error).where(
                pub.community_id == store.community_id,
                pub.series == series_of(conference),
                pub.slot == slot_of(conference, day),
            )
        ).all()
    return {
        Platform(r.platform): "held" if r.state == "skipped" and (r.error or "").startswith(HELD) else r.state
        for r in rows
    }


class DailyHighlights:
    def __init__(self, store: Store, publisher: Publisher, settings: Settings) -> None:
        self.store = store
        self.publisher = publisher
        self.settings = settings

    def _conferences(self) -> list[ConferenceView]:
        with self.store.engine.connect() as conn:
            return conferences(conn, self.store.community_id)

    def compose(self, conference: ConferenceView, day: date, adapter: PlatformAdapter) -> list[str]:
        return compose_highlights(
            conference=conference.name,
            tag=conference.tag,
            day=day,
            day_number=(day - conference.starts_on).days + 1,
            items=day_items(self.store, conference, day),
            limits=adapter.limits,
            markup=Markup(adapter.markup, adapter.inert),
            consent_mode=self.settings.community.consent,
        )

    def preview(self, conference: ConferenceView, day: date) -> dict[Platform, list[str]]:
        """Exactly what each running platform would get for ``day``."""
        return {p: self.compose(conference, day, a) for p, a in self.publisher.adapters.items()}

    def hold(self, conference: ConferenceView, day: date, by: str) -> list[Platform]:
        """Keep ``day``'s highlights from going out; the platforms where that was still possible."""
        return hold(self.publisher, conference, day, list(self.publisher.adapters), by)

    def next_due(self, now: datetime) -> datetime | None:
        """When the next day's highlights of any conference go out after ``now``."""
        later = [
            slot
            for conference in self._conferences()
            for day in days_of(conference)
            if (slot := slot_of(conference, day)) > now
        ]
        return min(later, default=None)

    async def run_due(self, now: datetime) -> list[PublishOutcome]:
        """Publish every day's highlights whose time has come (within GRACE) and is not done."""
        out: list[PublishOutcome] = []
        for conference in await run_sync(self._conferences):
            for day in days_of(conference):
                slot = slot_of(conference, day)
                if not (slot <= now < slot + GRACE):
                    continue
                for platform, adapter in self.publisher.adapters.items():

                    def compose(
                        conference: ConferenceView = conference,
                        day: date = day,
                        adapter: PlatformAdapter = adapter,
                    ) -> list[str]:
                        return self.compose(conference, day, adapter)

                    out.append(await self.publisher.publish(series_of(conference), slot, platform, compose))
        return out
