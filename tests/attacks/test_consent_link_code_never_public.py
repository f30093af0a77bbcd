"""No secret reaches a public answer: a link code is given only where the answer is private
(Mastodon direct message), never on Bluesky, whose answers are public replies; a code is only
*entered* in public, and once entered it is spent (a copy is worth nothing); codes are short-lived.
The real Mastodon.py and atproto against the sandboxes."""

from __future__ import annotations

from sqlalchemy import select

from bot.store import models as m
from tests.attacks.consent_world import CODE, World, masto, sky, world

__all__ = ["masto", "sky", "world"]  # fixtures


def _no_code_in_public(w: World) -> None:
    for text in w.answers():
        assert CODE.search(text) is None, text
    for status in w.central_statuses():
        if status["visibility"] != "direct":
            assert CODE.search(str(status["content"])) is None, status["content"]


async def test_link_on_bluesky_gets_where_to_ask_never_a_code(world: World) -> None:
    ana = world.sky.add_account("ana.test")
    await world.round()
    world.skeet(ana, "link")
    world.skeet(ana, "Link please 🙏")
    await world.round()
    answers = world.answers()
    assert len(answers) == 2
    assert all("only sent in private" in a and "Mastodon direct message" in a for a in answers)
    with world.engine.connect() as conn:
        assert conn.execute(select(m.LinkCode.id)).all() == []
    _no_code_in_public(world)


async def test_a_code_asked_in_a_public_mention_comes_back_direct(world: World) -> None:
    maria = world.masto.add_account("maria")
    await world.round()
    world.mention(maria, "link")  # a public mention: the answer is still a direct message
    await world.round()
    (answer,) = world.directs_to(maria)
    assert CODE.search(answer) is not None
    assert "15 minutes" in answer
    (status,) = [s for s in world.central_statuses() if s["visibility"] == "direct"]
    assert [x["id"] for x in status["mentions"]] == [maria["id"]]  # only she can read it
    _no_code_in_public(world)


async def test_an_entered_code_is_spent_and_a_copy_is_worth_nothing(world: World) -> None:
    maria = world.masto.add_account("maria")
    ana_sky = world.sky.add_account("maria.test")
    troll = world.sky.add_account("troll.test")
    await world.round()
    world.mention(maria, "link", visibility="direct")
    await world.round()
    found = CODE.search(world.directs_to(maria)[0])
    assert found is not None
    world.skeet(ana_sky, f"link {found[0]}")  # entered in public: anyone now sees it
    await world.round()
    world.skeet(troll, f"link {found[0]}")  # the copy
    await world.round()
    assert "Code received" in world.answers()[0]
    assert "unknown or has expired" in world.answers()[1]
    with world.engine.connect() as conn:
        used_by = conn.execute(select(m.LinkCode.used_by)).scalar_one()
        troll_pk = conn.execute(
            select(m.Account.id).where(m.Account.platform_account_id == troll)
        ).scalar_one()
    assert used_by != troll_pk
    _no_code_in_public(world)


async def test_a_code_lives_minutes_not_hours(world: World) -> None:
    maria = world.masto.add_account("maria")
    other = world.masto.add_account("maria_md", "elsewhere.example")
    await world.round()
    world.mention(maria, "link", visibility="direct")
    await world.round()
    found = CODE.search(world.directs_to(maria)[0])
    assert found is not None
    world.clock.advance(minutes=16)
    world.mention(other, f"link {found[0]}", visibility="direct")
    await world.round()
    assert "unknown or has expired" in world.directs_to(other)[0]
