"""Every consent change is in the audit log with the account that asked for it: opt-outs and
opt-ins (each from its own account), a code given, a code entered (by whom, about whose code),
the link confirmed, a link refused, a #nobot found in a profile, and a curator's opt-out for a
member (the real ``python -m bot member optout``). Real libraries on the sandboxes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.cli.main import main
from bot.domain import Platform
from bot.store import models as m
from tests.attacks.consent_world import TAG, World, linked_pair, masto, sky, world
from tests.conftest import BASE_CONFIG

__all__ = ["masto", "sky", "world"]  # fixtures


def _events(w: World) -> list[tuple[str, str, str | None, str]]:
    """(whose account, action, which account asked, by) in order, accounts by handle."""
    with w.engine.connect() as conn:
        handles = dict(conn.execute(select(m.Account.id, m.Account.handle)).all())
        rows = conn.execute(
            select(
                m.ConsentEvent.account_id, m.ConsentEvent.action, m.ConsentEvent.asked_by, m.ConsentEvent.by
            ).order_by(m.ConsentEvent.id)
        ).all()
    return [(handles[a], act, handles.get(asked), by) for a, act, asked, by in rows]


def _cli(config: Path, *argv: str) -> int:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return main([*argv, "--config", str(config)])
    finally:  # the command sets up logging for a process; this test's process goes on
        root.handlers[:], root.level = handlers, level


async def test_every_change_names_the_account_that_asked(
    world: World, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maria, maria_sky = await linked_pair(world)
    world.skeet(maria_sky, "optout")
    await world.round()
    world.mention(maria, "optin", visibility="direct")
    await world.round()
    troll = world.sky.add_account("troll.test")
    world.mention(maria, "link", visibility="direct")
    await world.round()
    code = world.directs_to(maria)[0].split("link code is ")[1][:9]
    world.skeet(troll, f"link {code}")
    await world.round()
    world.mention(maria, "link no", visibility="direct")
    await world.round()
    rosa = world.masto.add_account("rosa", note="Nurse. #nobot")
    world.masto.post(rosa, f"Hello #{TAG}")
    await world.round()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**BASE_CONFIG, "database": {"url": db_url}}))
    lucia = world.masto.add_account("lucia")
    world.masto.post(lucia, f"Hi #{TAG}")
    await world.round()
    assert _cli(config, "member", "optout", "lucia@med.example", "--as", "ana") == 0
    capsys.readouterr()

    events = _events(world)
    M, S = "maria@med.example", "maria.test"
    expected: list[tuple[str, str, str | None, str]] = [
        (M, "code_issued", M, "member"),
        (M, "link_asked", S, "member"),  # her code, entered by the Bluesky account
        (M, "linked", M, "member"),
        (S, "linked", M, "member"),
        (S, "out", S, "bluesky:optout"),
        (M, "in", M, "mastodon:optin"),
        (M, "code_issued", M, "member"),
        (M, "link_asked", "troll.test", "member"),
        (M, "link_refused", M, "member"),
        ("rosa@med.example", "out", None, "profile marker"),
        ("lucia@med.example", "out", None, "curator:ana"),
    ]
    assert events == expected
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "out"  # Bluesky's opt-out holds
