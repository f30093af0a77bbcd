"""Meet-ups at a conference: the announcement curators schedule (place, time, how to find the
ribbon), published once per platform at its time through the series' publisher, whose intent row
makes it exactly once across workers and restarts. Composing it is pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.domain import TextLimits
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.series.markup import Markup
from bot.series.publisher import Publisher, PublishOutcome
from bot.store import models as m
from bot.store.store import Store
from bot.text import split_thread

DEFAULT_LEAD = timedelta(hours=3)  # the announcement goes out this long before, unless told
# An announcement not out at its time (the bot was down) still goes out late, as long as the
# meet-up has not begun: after that it would only mislead.
TEMPLATES = {
    "en": "🎗️ Meet-up at {conference} (#{tag}): {day} at {time} ({zone}), {place}. "
    "How to find us: {ribbon}. Come and say hello!",
    "es": "🎗️ Encuentro en {conference} (#{tag}): {day} a las {time} ({zone}), {place}. "
    "Cómo encontrarnos: {ribbon}. ¡Ven a saludarnos!",
}


@dataclass(frozen=True)
class MeetupView:
    id: int
    conference: str  # its name
    tag: str
    timezone: str
    at: datetime  # UTC
    announce_at: datetime  # UTC
    place: str
    ribbon: str

    @property
    def series(self) -> str:
        return f"meetup:{self.id}"

    def local(self, at: datetime) -> datetime:
        return at.astimezone(ZoneInfo(self.timezone))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conference": self.conference,
            "tag": self.tag,
            "at": self.at.isoformat(),
            "local_at": self.local(self.at).isoformat(),
            "announce_at": self.announce_at.isoformat(),
            "place": self.place,
            "ribbon": self.ribbon,
        }


def meetups(store: Store, *, since: datetime | None = None) -> list[MeetupView]:
    """The meet-ups on (not removed) of conferences in force, by time."""
    x, c = m.Meetup, m.Conference
    q = (
        select(x.id, c.name, c.tag, c.timezone, x.at, x.announce_at, x.place, x.ribbon)
        .join(c, c.id == x.conference_id)
        .where(x.community_id == store.community_id, x.removed_at.is_(None), c.removed_at.is_(None))
    )
    if since is not None:
        q = q.where(x.at >= since)
    with store.engine.connect() as conn:
        return [MeetupView(*row) for row in conn.execute(q.order_by(x.at, x.id))]


def compose_meetup(
    meetup: MeetupView, languages: tuple[str, ...], limits: TextLimits, markup: Markup | None = None
) -> list[str]:
    """The announcement in each of the community's languages that has a template, the first
    first, as one post or a numbered thread."""
    mk = markup or Markup()
    local = meetup.local(meetup.at)
    fields = {
        "conference": meetup.conference,
        "tag": meetup.tag,
        "day": f"{local:%a %d %b}",
        "time": f"{local:%H:%M}",
        "zone": meetup.timezone,
        "place": " ".join(meetup.place.split()),
        "ribbon": " ".join(meetup.ribbon.split()),
    }
    said = [lang for lang in languages if lang in TEMPLATES] or ["en"]
    body = "\n\n".join(mk.text(TEMPLATES[lang].format(**fields)) for lang in said)
    if mk.is_html and mk.measure(limits)(body) <= limits.max_length:
        return [body]
    return split_thread(body, limits)


class Meetups:
    """Publishes the meet-up announcements that are due (see Gatherings)."""

    def __init__(self, store: Store, publisher: Publisher, languages: tuple[str, ...]) -> None:
        self.store = store
        self.publisher = publisher
        self.languages = languages

    def due(self, now: datetime) -> list[MeetupView]:
        return [x for x in meetups(self.store, since=now) if x.announce_at <= now < x.at]

    def next_due(self, now: datetime) -> datetime | None:
        x = m.Meetup
        with self.store.engine.connect() as conn:
            found: datetime | None = conn.execute(
                select(func.min(x.announce_at)).where(
                    x.community_id == self.store.community_id, x.removed_at.is_(None), x.announce_at > now
                )
            ).scalar_one_or_none()
        return found

    async def run_due(self, now: datetime) -> list[PublishOutcome]:
        out = []
        for meetup in await run_sync(self.due, now):
            for platform, adapter in self.publisher.adapters.items():

                def compose(meetup: MeetupView = meetup, adapter: PlatformAdapter = adapter) -> list[str]:
                    markup = Markup(adapter.markup, adapter.inert)
                    return compose_meetup(meetup, self.languages, adapter.limits, markup)

                out.append(await self.publisher.publish(meetup.series, meetup.announce_at, platform, compose))
        return out
