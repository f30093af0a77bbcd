"""Meet-ups at a conference: scheduled by curators (ops and the command line), announced once per
platform through the series' publisher at their time (two workers racing, one post), called off
before they go out, and refused with a clear reason when a field is wrong. Real Mastodon.py on
the sandbox, injected clock, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from adapters.mastodon.normalize import html_to_text
from bot.cli.main import main
from bot.clock import FakeClock
from bot.conference.meetups import Meetups
from bot.config import Settings
from bot.domain import Platform
from bot.ops import conferences as conf_ops
from bot.ops import meetups as ops
from bot.ops.result import Outcome
from bot.series.publisher import Publisher
from bot.store import models as m
from bot.store.store import Store
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import central_statuses, mastodon_adapter

ACS = conf_ops.ConferenceFields(
    name="ACS Clinical Congress",
    tag="ACSCC27",
    starts_on="2027-10-16",
    ends_on="2027-10-20",
    timezone="America/Chicago",
)
# Sunday 17 October 2027, 18:30 in Chicago (CDT) = 23:30 UTC.
MEETUP_AT = datetime(2027, 10, 17, 23, 30, tzinfo=UTC)
FIELDS = ops.MeetupFields(
    tag="#acscc27",
    at="2027-10-17 18:30",
    place="Café Ardente, McCormick Place West, level 2",
    ribbon="look for the purple ribbon on Dra. Ruiz's badge",
)


@pytest.fixture
def conference(store: Store, settings: Settings, clock: FakeClock) -> None:
    clock.advance((datetime(2027, 10, 16, 12, tzinfo=UTC) - clock.now()).total_seconds())
    assert conf_ops.add_conference(store, settings, ACS, by="ana", now=clock.now()).ok


def _meetups(store: Store, clock: FakeClock, sandbox: MastodonSandbox, worker: str) -> Meetups:
    adapter = mastodon_adapter(sandbox.base_url, clock)
    publisher = Publisher(store, {Platform.MASTODON: adapter}, clock, worker=worker)
    return Meetups(store, publisher, ("en", "es"))


@pytest.mark.usefixtures("conference")
def test_scheduling_checks_every_field(store: Store, settings: Settings, clock: FakeClock) -> None:
    now = clock.now()
    added = ops.add_meetup(store, settings, FIELDS, by="ana", now=now)
    assert added.outcome is Outcome.DONE, added.message
    assert added.data is not None
    assert (added.data.at, added.data.announce_at) == (MEETUP_AT, MEETUP_AT - timedelta(hours=3))
    assert "Sun 17 Oct 18:30 (America/Chicago)" in added.message
    assert "Announced Sun 17 Oct 15:30" in added.message
    for change, says in (
        ({"tag": "nope"}, "no conference #nope"),
        ({"at": "tomorrow"}, "must be a local time"),
        ({"at": "2027-10-17 18:30+02:00"}, "leave the offset out"),
        ({"at": "2020-10-17 18:30"}, "in the past"),
        ({"place": "  "}, "needs a place"),
        ({"ribbon": "x" * 301}, "at most 300"),
        ({"announce": "2027-10-18 09:00"}, "between now and the meet-up"),
    ):
        bad = ops.add_meetup(
            store, settings, ops.MeetupFields(**{**FIELDS.__dict__, **change}), by="ana", now=now
        )
        assert bad.outcome in (Outcome.USAGE, Outcome.REFUSED), change
        assert says in bad.message
    assert ops.add_meetup(store, settings, FIELDS, by="mallory", now=now).outcome is Outcome.USAGE
    assert [x.id for x in ops.list_meetups(store).data or []] == [added.data.id]
    assert ops.list_meetups(store, tag="other").data == []


@pytest.mark.usefixtures("conference")
async def test_the_announcement_goes_out_once_at_its_time_and_not_when_called_off(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox
) -> None:
    now = clock.now()
    kept = ops.add_meetup(store, settings, FIELDS, by="ana", now=now).data
    later = ops.MeetupFields(**{**FIELDS.__dict__, "at": "2027-10-18 18:30", "announce": "2027-10-17 15:30"})
    off = ops.add_meetup(store, settings, later, by="ana", now=now).data
    assert kept is not None
    assert off is not None
    w1, w2 = _meetups(store, clock, sandbox, "w1"), _meetups(store, clock, sandbox, "w2")
    assert w1.next_due(now) == kept.announce_at
    clock.advance((kept.announce_at - clock.now()).total_seconds() - 1)
    assert await w1.run_due(clock.now()) == []
    assert ops.remove_meetup(store, settings, off.id, by="rosa", now=clock.now()).ok
    assert not ops.remove_meetup(store, settings, off.id, by="rosa", now=clock.now()).ok
    clock.advance(seconds=1)
    first, second = await asyncio.gather(w1.run_due(clock.now()), w2.run_due(clock.now()))
    states = sorted(o.state for o in [*first, *second])
    assert states[-1] == "done"
    assert set(states[:-1]) <= {"already", "busy"}
    (posted,) = [html_to_text(s["content"]) for s in central_statuses(sandbox)]
    assert posted.startswith("🎗️ Meet-up at ACS Clinical Congress (#")
    assert "Sun 17 Oct at 18:30 (America/Chicago), Café Ardente, McCormick Place West, level 2." in posted
    assert "How to find us: look for the purple ribbon on Dra. Ruiz's badge." in posted
    assert "Cómo encontrarnos:" in posted
    clock.advance(hours=4)  # the meet-up has begun: nothing more, not even the one called off
    assert await w1.run_due(clock.now()) == []
    assert w1.next_due(clock.now()) is None
    with store.engine.connect() as conn:
        rows = conn.execute(select(m.Publication.series, m.Publication.state)).all()
    assert [tuple(r) for r in rows] == [(f"meetup:{kept.id}", "done")]


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
                "database": {"url": db_url},
                "curators": [{"name": "ana"}],
            }
        )
    )
    return path


def test_meetups_from_the_command_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def bot(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out, err

    conf = ("conferences", "add", "--name", "ACS", "--tag", "ACSCC99", "--from", "2099-10-16")
    assert bot(*conf, "--to", "2099-10-20", "--timezone", "America/Chicago", "--as", "ana")[0] == 0
    add = ("conferences", "meetup", "add", "--tag", "ACSCC99", "--at", "2099-10-17 18:30")
    code, out, _ = bot(*add, "--place", "Café Ardente", "--ribbon", "purple ribbon", "--as", "ana", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["data"]["place"] == "Café Ardente"
    assert shown["data"]["at"] == "2099-10-17T23:30:00+00:00"
    code, out, _ = bot("conferences", "meetup", "list")
    assert code == 0
    assert "Café Ardente" in out
    assert f"as slot meetup:{shown['data']['id']}" in out
    code, _, err = bot(*add, "--place", "", "--ribbon", "r", "--as", "ana")
    assert code == 2
    assert "needs a place" in err
    assert bot("conferences", "meetup", "remove", str(shown["data"]["id"]), "--as", "ana")[0] == 0
    assert bot("conferences", "meetup", "remove", str(shown["data"]["id"]), "--as", "ana")[0] == 1
