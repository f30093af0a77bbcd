"""An opt-out on any account of a member wins until *that same account* opts back in: an opt-in
from a linked account (or from someone who linked themselves to her) never clears it, and once
the account that opted out opts in, nothing of it is left behind (no trapped member). Real
Mastodon.py and atproto on the sandboxes; her posts are what is (not) queued."""

from __future__ import annotations

from bot.domain import Platform
from tests.attacks.consent_world import TAG, World, linked_pair, masto, sky, world

__all__ = ["masto", "sky", "world"]  # fixtures


async def test_an_optin_from_the_linked_account_does_not_clear_the_optout(world: World) -> None:
    maria, maria_sky = await linked_pair(world)
    world.mention(maria, "optout", visibility="direct")
    await world.round()
    assert world.consent(Platform.BLUESKY, maria_sky) == "out"  # covers the linked account

    world.skeet(maria_sky, "opt in")  # from the other account (or whoever holds it)
    await world.round()
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "out"
    assert world.consent(Platform.BLUESKY, maria_sky) == "out"
    world.sky.post(maria_sky, f"Matched! #{TAG}")
    world.masto.post(maria, f"Matched too! #{TAG}")
    await world.round()
    assert world.states() == {}  # neither is queued

    world.mention(maria, "optin", visibility="direct")  # the account that opted out
    await world.round()
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "in"
    assert world.consent(Platform.BLUESKY, maria_sky) == "in"  # nothing left behind
    world.sky.post(maria_sky, f"Residency done #{TAG}")
    await world.round()
    assert list(world.states().values()) == ["pending"]


async def test_the_reverse_holds_too(world: World) -> None:
    maria, maria_sky = await linked_pair(world)
    world.skeet(maria_sky, "Opt–out please 🙏")
    await world.round()
    world.mention(maria, "optin", visibility="direct")
    await world.round()
    assert "maria.test (Bluesky) opted out" in world.directs_to(maria)[0]  # private: named
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "out"
    world.skeet(maria_sky, "optin")
    await world.round()
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "in"


async def test_each_account_that_opted_out_must_opt_in_itself(world: World) -> None:
    maria, maria_sky = await linked_pair(world)
    world.mention(maria, "optout", visibility="direct")
    world.skeet(maria_sky, "baja")
    await world.round()
    world.mention(maria, "optin", visibility="direct")
    await world.round()
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "out"  # Bluesky still says out
    world.skeet(maria_sky, "alta")
    await world.round()
    assert world.consent(Platform.MASTODON, str(maria["id"])) == "in"
    assert world.consent(Platform.BLUESKY, maria_sky) == "in"
