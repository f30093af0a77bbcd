"""Linking needs both accounts, each through a channel only it controls: the code is given in
private to A (Mastodon direct message), entered by B (here on Bluesky, in public), and the link is
made only when A confirms in private. Someone who got hold of the code cannot link themselves:
A is told who entered it and refuses; A's silence links nothing. Real libraries, sandboxes."""

from __future__ import annotations

from typing import Any

from bot.domain import Platform
from tests.attacks.consent_world import CODE, World, masto, sky, world

__all__ = ["masto", "sky", "world"]  # fixtures


async def _code_for(w: World, account: dict[str, Any]) -> str:
    w.mention(account, "link", visibility="direct")
    await w.round()
    found = CODE.search(w.directs_to(account)[0])
    assert found is not None
    return found[0]


async def test_linked_only_when_the_code_owner_confirms_in_private(world: World) -> None:
    maria = world.masto.add_account("maria")
    maria_sky = world.sky.add_account("maria.test")
    await world.round()
    code = await _code_for(world, maria)
    world.skeet(maria_sky, f"link {code}")
    await world.round()
    assert "Nothing is linked until then" in world.answers()[-1]
    assert world.people()["maria@med.example"] is None  # entering the code is not enough

    asked = world.directs_to(maria)[0]
    assert "maria.test (Bluesky) entered your link code" in asked
    assert "'link yes'" in asked
    (status,) = [s for s in world.central_statuses() if "entered your link code" in s["content"]]
    assert status["visibility"] == "direct"
    assert [x["id"] for x in status["mentions"]] == [maria["id"]]  # the other account is not mentioned

    world.mention(maria, "link yes", visibility="direct")
    await world.round()
    assert world.directs_to(maria)[0].startswith("@maria Linked: this account and maria.test (Bluesky)")
    people = world.people()
    assert people["maria@med.example"] is not None
    assert people["maria@med.example"] == people["maria.test"]


async def test_a_stolen_code_is_refused_by_its_owner(world: World) -> None:
    maria = world.masto.add_account("maria")
    troll = world.sky.add_account("troll.test")
    await world.round()
    code = await _code_for(world, maria)
    world.skeet(troll, f"link {code}")  # the troll saw it over her shoulder
    await world.round()
    assert "troll.test (Bluesky) entered your link code" in world.directs_to(maria)[0]
    world.mention(maria, "link no", visibility="direct")
    await world.round()
    assert world.directs_to(maria)[0].startswith("@maria Refused")
    assert world.people()["troll.test"] is None
    assert world.people()["maria@med.example"] is None
    # and the troll cannot confirm for her
    world.skeet(troll, "link yes")
    await world.round()
    assert "no link waiting" in world.answers()[-1]
    assert world.people()["troll.test"] is None


async def test_silence_links_nothing_and_only_the_owner_can_confirm(world: World) -> None:
    maria = world.masto.add_account("maria")
    troll = world.masto.add_account("troll", "pile.example")
    await world.round()
    troll_code = await _code_for(world, troll)
    world.mention(maria, f"link {troll_code}", visibility="direct")  # tricked into entering it
    await world.round()
    world.mention(maria, "link yes", visibility="direct")  # the one who entered cannot confirm
    await world.round()
    assert "no link waiting" in world.directs_to(maria)[0]
    assert world.people()["troll@pile.example"] is None

    code = await _code_for(world, maria)
    other = world.masto.add_account("maria_md", "elsewhere.example")
    world.mention(other, f"link {code}", visibility="direct")
    await world.round()
    world.clock.advance(minutes=16)  # she never answered in time
    world.mention(maria, "link yes", visibility="direct")
    await world.round()
    assert "no link waiting" in world.directs_to(maria)[0]
    assert world.people()["maria_md@elsewhere.example"] is None
    assert world.consent(Platform.MASTODON, str(maria["id"])) is None
