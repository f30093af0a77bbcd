"""The member directory: who is in it, what it says about them, and who it never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import Platform, Post
from bot.errors import ConfigError, DirectoryError
from bot.report import directory
from bot.store.store import Item
from tests.bot.report.conftest import TAG, Seeded, at, who


def test_members_are_hashtag_users_and_the_amplified_but_never_who_opted_out(seeded: Seeded) -> None:
    found = directory.members(seeded.store, seeded.settings)
    handles = [x.handle for x in found.members]
    # Nina never used the hashtag but was amplified; the central accounts are not members.
    assert sorted(handles) == sorted(
        [
            "maria@med.example",
            "hospital@med.example",
            "elena@med.example",
            "nina@med.example",
            "rosa.bsky.social",
            "clinic.bsky.social",
            "@tgmember",
        ]
    )
    assert "quiet@med.example" not in handles
    assert (found.total, found.opted_out, found.blocked) == (8, 1, 0)
    assert directory.summary(found) == "8 members (1 opted out: counted, never listed)"


def test_a_member_record_says_what_the_issue_asks(seeded: Seeded) -> None:
    by_handle = {x.handle: x for x in directory.members(seeded.store, seeded.settings).members}
    maria = by_handle["maria@med.example"]
    assert (maria.platform, maria.hashtag_posts, maria.amplified) == ("mastodon", 3, 2)  # m1 m2 m9
    assert (maria.consent, maria.organisation, maria.follows_central) == ("in", False, True)
    assert maria.first_seen < maria.last_seen
    hospital = by_handle["hospital@med.example"]
    assert (hospital.organisation, hospital.organisation_source, hospital.follows_central) == (
        True,
        "platform",
        False,
    )
    clinic = by_handle["clinic.bsky.social"]
    assert (clinic.organisation, clinic.organisation_source) == (True, "config")
    nina = by_handle["nina@med.example"]
    assert (nina.hashtag_posts, nina.amplified, nina.follows_central) == (0, 1, None)
    assert by_handle["elena@med.example"].hashtag_posts == 3  # February's post counts too


def test_platform_filter_and_limit(seeded: Seeded) -> None:
    bluesky = directory.members(seeded.store, seeded.settings, platform=Platform.BLUESKY)
    assert {x.handle for x in bluesky.members} == {"rosa.bsky.social", "clinic.bsky.social"}
    assert len(directory.members(seeded.store, seeded.settings, limit=2).members) == 2


def test_blocked_accounts_are_counted_but_not_listed(seeded: Seeded) -> None:
    from sqlalchemy import update

    from bot.store import models as m

    with seeded.store.engine.begin() as conn:
        conn.execute(update(m.Account).where(m.Account.handle == "hospital@med.example").values(blocked=True))
    found = directory.members(seeded.store, seeded.settings)
    assert "hospital@med.example" not in {x.handle for x in found.members}
    assert (found.total, found.blocked) == (8, 1)


def test_export_writes_every_listed_member_and_reads_back(seeded: Seeded, tmp_path: Path) -> None:
    found = directory.members(seeded.store, seeded.settings)
    path = tmp_path / "members.csv"
    assert directory.export_csv(found, path) == 7
    rows = directory.read_csv(path)
    assert rows == [x.row() for x in found.members]
    assert list(rows[0]) == directory.COLUMNS
    assert "quiet@med.example" not in path.read_text()


def test_mark_and_unmark_are_a_curators_word(seeded: Seeded) -> None:
    marked = directory.mark(seeded.store, seeded.settings, "@TGMember", organisation=True, curator="ana")
    assert (marked.organisation, marked.organisation_source) == (True, "curator:ana")
    unmarked = directory.mark(
        seeded.store, seeded.settings, "hospital@med.example", organisation=False, curator="rosa"
    )
    assert (unmarked.organisation, unmarked.organisation_source) == (False, None)  # flags overruled
    by_id = directory.mark(seeded.store, seeded.settings, "did:plc:rosa", organisation=True, curator="ana")
    assert by_id.handle == "rosa.bsky.social"


def test_mark_refuses_unknown_members_curators_and_ambiguity(seeded: Seeded) -> None:
    with pytest.raises(DirectoryError, match=r"no member 'nobody@x\.example'"):
        directory.mark(seeded.store, seeded.settings, "nobody@x.example", organisation=True, curator="ana")
    with pytest.raises(ConfigError, match="no curator named 'mallory'"):
        directory.mark(seeded.store, seeded.settings, "@tgmember", organisation=True, curator="mallory")
    twin = Post(
        platform=Platform.BLUESKY,
        post_id="twin",
        url="https://bluesky.example/twin",
        author=who("maria@med.example", "did:plc:twin"),
        text="#LatinasInMedicine",
        created_at=at(7),
        hashtags=frozenset({TAG}),
    )
    seeded.store.ingest(Platform.BLUESKY, [Item(twin)], at(7))
    with pytest.raises(DirectoryError, match=r"several platforms \(bluesky, mastodon\): add --platform"):
        directory.mark(seeded.store, seeded.settings, "maria@med.example", organisation=True, curator="ana")
    marked = directory.mark(
        seeded.store,
        seeded.settings,
        "maria@med.example",
        organisation=True,
        curator="ana",
        platform=Platform.BLUESKY,
    )
    assert marked.platform == "bluesky"
