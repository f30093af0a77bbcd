"""After the conference: the report's figures, top posts (opted-out members counted, never
named), terminal text and CSV; and the preview, hold and report from the command line."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from bot.cli.main import main
from bot.clock import FakeClock
from bot.conference import report_pages
from bot.conference.report import to_csv, to_text
from bot.config import Settings
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.ops import conferences as ops
from bot.ops import gatherings
from bot.ops.conferences import ConferenceFields
from bot.ops.result import Outcome
from bot.store import models as m
from bot.store.store import Item, Store
from tests.factories import author, post

DAY1 = datetime(2027, 10, 14, 15, 0, tzinfo=UTC)
ACS = ConferenceFields(
    name="ACS Clinical Congress", tag="ACSCC27", starts_on="2027-10-14", ends_on="2027-10-16",
    timezone="America/Chicago",
)  # fmt: skip


def test_the_conference_report(store: Store, settings: Settings, clock: FakeClock) -> None:
    veteran = author("maria@med.example", account_id="1")
    store.ingest(
        Platform.MASTODON, [Item(post(by=veteran, now=clock.now()))], clock.now()
    )  # known since March 2026
    ops.add_conference(store, settings, ACS, by="ana", now=clock.now())
    tags = ("LatinasInMedicine", "ACSCC27")
    newcomer = author("=cmd@med.example", account_id="2")
    shy = author("elena@med.example", account_id="3")
    posts = [
        post("Plenary #ACSCC27", by=veteran, tags=tags, now=DAY1),
        post("First time here! #ACSCC27", by=newcomer, tags=tags, now=DAY1),
        post("Poster #ACSCC27", by=shy, tags=tags, now=DAY1 + timedelta(days=1)),
        post("Before it began #ACSCC27", by=veteran, tags=tags, now=DAY1 - timedelta(days=2)),
    ]
    for p in posts:
        Pipeline(settings, store).ingest(
            Platform.MASTODON, Batch(source="hashtag", posts=[p], cursor=None), p.created_at
        )
    Queue(store, settings).approve(1 + 1, "ana", DAY1)  # candidate ids start at 1: the March post is #1
    with store.engine.begin() as conn:
        for url_end, engagement in (("1", 5), ("2", 40), ("3", 90)):
            conn.execute(
                update(m.Post)
                .where(m.Post.text.like(("Plenary%", "First%", "Poster%")[int(url_end) - 1]))
                .values(engagement=engagement)
            )
        conn.execute(update(m.Account).where(m.Account.handle == "elena@med.example").values(consent="out"))
    result = gatherings.report(store, settings, "acscc27")
    assert result.outcome is Outcome.DONE
    found = result.data
    assert found is not None
    assert (found.posts, found.queued, found.approved, found.authors, found.first_time_authors) == (
        3,
        3,
        1,
        3,
        2,
    )
    assert found.engagement == 135
    assert found.by_platform == {"mastodon": 3}
    assert [(t.who, t.engagement) for t in found.top] == [
        ("a member", 90),
        ("=cmd", 40),
        ("maria", 5),
    ]
    assert found.top[0].url is None
    text = to_text(found)
    assert re.search(r"^  first time authors +2$", text, re.MULTILINE)
    assert "1. a member on Mastodon: 90 interactions" in text
    assert "elena" not in text
    rows = list(csv.reader(io.StringIO(to_csv(found))))
    assert rows[0] == ["conference", "figure", "value"]
    assert ["acscc27", "posts", "3"] in rows
    assert rows[-2][:4] == ["2", "'=cmd", "mastodon", "40"]  # a name never runs as a formula
    assert [(day.isoformat(), counts, n) for day, counts, n in found.by_day] == [
        ("2027-10-14", {"mastodon": 2}, 2),
        ("2027-10-15", {"mastodon": 1}, 1),
        ("2027-10-16", {}, 0),
    ]
    picture = report_pages.png(found)
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")
    page = report_pages.html_page(found, picture)
    assert "data:image/png;base64," in page
    assert "<td>first time authors</td><td>2</td>" in page
    assert "<td>Fri 15 Oct</td><td>1</td><td>1</td>" in page
    assert "elena" not in page
    assert "<td>=cmd</td>" in page  # a name, escaped, in a web page (no formula there)
    assert gatherings.report(store, settings, "nope").outcome is Outcome.REFUSED


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASTO_TOKEN", "tok-not-used")
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
                "database": {"url": db_url},
                "curators": [{"name": "ana"}],
                "platforms": {
                    "mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTO_TOKEN}"}
                },
            }
        )
    )
    return path


def test_preview_hold_and_report_from_the_command_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def bot(*args: str) -> tuple[int, str]:
        """Stdout for a done command, stderr (refusals, usage errors) otherwise."""
        code = main([*args, "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out if code == 0 else err

    add = (
        "conferences",
        "add",
        "--name",
        "ACS",
        "--tag",
        "ACSCC27",
        "--from",
        "2027-10-14",
        "--to",
        "2027-10-16",
    )
    assert bot(*add, "--timezone", "America/Chicago", "--as", "ana")[0] == 0
    code, out = bot("conferences", "highlights", "ACSCC27", "--day", "2027-10-14")
    assert code == 0
    assert "ACS, 2027-10-14: nothing approved to show yet." in out
    code, out = bot("conferences", "highlights", "ACSCC27", "--day", "2027-11-01")
    assert code == 2
    assert "\nusage error: " in "\n" + out
    assert "not a day of #acscc27" in out
    code, out = bot("conferences", "hold", "ACSCC27", "--day", "2027-10-15", "--as", "ana")
    assert (code, out.strip()) == (0, "The highlights of 2027-10-15 are held on mastodon.")
    assert bot("conferences", "hold", "ACSCC27", "--day", "2027-10-15", "--as", "ana")[0] == 1
    code, out = bot("conferences", "release", "ACSCC27", "--day", "2027-10-15", "--as", "ana")
    assert (code, out.strip()) == (0, "The highlights of 2027-10-15 will go out on mastodon.")
    code, out = bot("conferences", "release", "ACSCC27", "--day", "2027-10-15", "--as", "ana")
    assert code == 1
    assert "the highlights of 2027-10-15 are not held" in out
    assert bot("conferences", "hold", "ACSCC27", "--day", "2027-10-15", "--as", "ana")[0] == 0
    target = tmp_path / "acs.csv"
    code, out = bot("conferences", "report", "ACSCC27", "--csv", str(target))
    assert code == 0
    assert re.search(r"^  posts +0$", out, re.MULTILINE)
    assert target.read_text().startswith("conference,figure,value\n")
    assert target.stat().st_mode & 0o077 == 0  # owner-only by default
    png, page = tmp_path / "acs.png", tmp_path / "acs.html"
    code, out = bot("conferences", "report", "ACSCC27", "--png", str(png), "--html", str(page))
    assert code == 0
    assert f"Chart written to {png}" in out
    assert f"Web page written to {page}" in out
    assert png.read_bytes().startswith(b"\x89PNG")
    assert page.read_text().startswith("<!doctype html>")
    assert "<h1>ACS (#acscc27) — 14 Oct to 16 Oct 2027 (America/Chicago)</h1>" in page.read_text()
    assert png.stat().st_mode & 0o077 == 0
    assert page.stat().st_mode & 0o077 == 0
