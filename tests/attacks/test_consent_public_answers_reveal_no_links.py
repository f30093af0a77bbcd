"""Public answers never reveal which accounts are linked: on Bluesky (answers are public replies)
a linked member gets, word for word, what an unlinked one gets for the same requests — no other
handle, no count of linked accounts, no hint that another account of hers opted out. Real
Mastodon.py and atproto on the sandboxes."""

from __future__ import annotations

from tests.attacks.consent_world import World, linked_pair, masto, sky, world

__all__ = ["masto", "sky", "world"]  # fixtures

ASKS = ["optout", "optin", "link", "help", "link yes", "link ABCD-EFGH", "opt out of this thread"]


async def _answers_to(w: World, did: str, handle: str) -> list[str]:
    """The words of every public answer to ``ASKS`` from ``did``, mentions aside."""
    before = len(w.answers())
    for ask in ASKS:
        w.skeet(did, ask)
        await w.round()
    said = w.answers()[before:]
    assert len(said) >= len(ASKS)  # every one answered (a long answer is a thread of replies)
    # a thread is split where the mention's length puts the limit: compare the words
    return " ".join(a.removeprefix(f"@{handle} ") for a in said).split()


async def test_a_linked_member_gets_what_anyone_gets(world: World) -> None:
    maria, maria_sky = await linked_pair(world)
    world.mention(maria, "optout", visibility="direct")  # her other account is out
    await world.round()
    rosa = world.sky.add_account("rosa.test")  # linked to nobody
    await world.round()

    linked = await _answers_to(world, maria_sky, "maria.test")
    alone = await _answers_to(world, rosa, "rosa.test")

    assert linked == alone
    said = " ".join(linked)
    assert "maria@med.example" not in said
    assert "@maria" not in said
    assert "linked accounts" not in said
    assert "(Mastodon)" not in said  # no account named the way private answers name them
