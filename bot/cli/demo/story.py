"""The demo's story, steps 1 to 6: the platforms read, the queue, the curator's taps on the
Telegram cards, the amplifier; then the later chapters (bot.cli.demo.series,
bot.cli.demo.gatherings), how to carry on by hand, and the web console (bot.cli.demo.web)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from adapters.registry import settings_class
from bot import files
from bot.cli.demo import gatherings
from bot.cli.demo.output import say, what_went_out
from bot.cli.demo.series import series_and_report
from bot.cli.demo.web import web_console
from bot.cli.demo.world import (
    BLUESKY_MEMBERS,
    CURATOR,
    CURATOR_TELEGRAM,
    MEMBERS,
    TG_CHANNEL,
    TG_CURATORS,
    DemoWorld,
    demo_config,
    world_for,
)
from bot.config import load
from bot.domain import Platform

if TYPE_CHECKING:
    from bot.app import Coalesce
    from bot.curation.amplifier import Outcome


def run_demo(directory: Path) -> int:
    """Start afresh in ``directory`` (its old database goes), then narrate one demo run."""
    if directory.exists():
        shutil.rmtree(directory)
    files.make_private_dir(directory)
    epoch = datetime.now(UTC).replace(microsecond=0)
    config_file = directory / "config.yaml"
    files.write_text(
        config_file,
        "# Written by `python -m bot demo`: the demo community on the built-in sandboxes.\n"
        + yaml.safe_dump(demo_config(directory.resolve(), epoch), sort_keys=False, allow_unicode=True),
    )
    return asyncio.run(_demo(config_file))


async def _demo(config_file: Path) -> int:
    from bot.app import Coalesce

    settings = load(config_file, schemas=settings_class)
    world = world_for(settings)
    central = world.mastodon.central["acct"]
    say(f"1. A pretend Mastodon server is running at {world.mastodon.base_url}.")
    say(f"   {len(MEMBERS)} members post with #LatinasInMedicine; the central account is @{central}.")
    say(f"   A pretend Bluesky (PDS, search and Jetstream) runs at {world.bluesky.base_url}, with")
    say(f"   {len(BLUESKY_MEMBERS)} members posting there too.")
    app = Coalesce(settings, adapters=world.adapters(settings), worker="demo")
    try:
        await app.start()
        say("\n2. Coalesce reads the hashtag timeline and the central account's mentions.")
        # One platform after another, so the same run gives the same candidate ids every time.
        ingested = {
            p: await app.watch_once(p) for p in (Platform.MASTODON, Platform.BLUESKY, Platform.TELEGRAM)
        }
        result = ingested[Platform.MASTODON]
        say(f"   {result.stored} posts stored; {len(result.candidates)} wait for a curator.")
        reasons = {
            "reply": "replies (not queued unless nominated)",
            "opted_out": "from a member with #nobot in her profile",
            "blocked": "from a blocked account",
            "duplicate": "seen twice (hashtag and nomination): kept once",
        }
        for reason, n in sorted(result.skipped.items()):
            say(f"   skipped {n}: {reasons.get(reason, reason)}")
        sky = ingested[Platform.BLUESKY]
        say(f"   On Bluesky: {sky.stored} posts stored, {len(sky.candidates)} wait for a curator", end="")
        say(f" ({sky.skipped.get('opted_out', 0)} from a member with #noboost in her profile).")
        tele = ingested[Platform.TELEGRAM]
        say(f"   On Telegram: {tele.stored} messages stored from the community group (one with the hashtag,")
        say("   one a member nominated by replying /nominate); the group's other chatter is not kept.")
        pending = app.queue.list("pending")
        say("\n3. The queue, as `python -m bot queue list` shows it:")
        for c in pending:
            note = f"  (nominated by {c.nominated_by})" if c.nominated_by else ""
            say(f"   #{c.id:<3} {c.author_name:22} {' '.join(c.text.split())[:58]}{note}")
        approve = [c for c in pending if "mentees" in c.text or "Matched" in c.text]
        reject = [c for c in pending if "Study group" in c.text]
        sky_approve = [c for c in pending if c.platform == "bluesky" and "residency" in c.text]
        tg_approve = [c for c in pending if c.platform == "telegram" and "thesis" in c.text]
        outcomes = await _decide_on_telegram(app, world, pending, approve + sky_approve + tg_approve, reject)
        for o in outcomes:
            say(f"   #{o.candidate_id} {what_went_out(o.platform, o.action.value)}: {o.detail}")
        boosted = sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses)
        say(f"   The server now shows {boosted} boosts by @{central}.")
        reposted = sum(len(world.bluesky.reposts_of(u)) for u in world.skeets)
        say(f"   Bluesky now shows {reposted} repost by the central account.")
        channel = world.telegram.sent_count(TG_CHANNEL)
        say(f"   The Telegram channel shows {channel} posts: a copy of the approved Telegram message with")
        say("   a button crediting its author, and a spotlight card for each approved Mastodon/Bluesky post.")
        say("\n6. Another cycle: nothing new, and nothing is boosted twice.")
        again = await app.run_once()
        boosted_again = sum(len(world.mastodon.reblogs_of(s)) for s in world.statuses)
        new = again.ingested[Platform.MASTODON].stored
        say(f"   {new} new posts, {len(again.outcomes)} boosts, still {boosted_again} on the server.")
        reposted_again = sum(len(world.bluesky.reposts_of(u)) for u in world.skeets)
        if channel != len(tg_approve) + len(approve) + len(sky_approve):
            say("   Something is wrong: the channel does not match the approvals.")
            return 1
        if reposted != len(sky_approve) or reposted_again != reposted:
            say("   Something is wrong: the reposts do not match the approvals.")
            return 1
        if boosted != len(approve) or boosted_again != boosted:
            say("   Something is wrong: the boosts do not match the approvals.")
            return 1
        wrote = await series_and_report(app, world, settings, config_file.parent)
        await gatherings.conference_day(app, world, settings)
        await gatherings.chat(app, world, settings)
        console = web_console(app, settings, config_file)
    finally:
        await app.stop()
        world.stop()
    cfg = config_file
    say("\nFiles it wrote:")
    for path in wrote:
        say(f"   {path}")
    say("\nCarry on by hand (the sandbox starts again with the same community; the README's")
    say('"Carry on by hand" shows every command, and uses the example files above):')
    say(f"   export COALESCE_CONFIG={cfg}")
    say("   python -m bot queue list")
    say(f"   python -m bot queue approve ID --as {CURATOR}")
    say(f"   python -m bot opportunities import {cfg.parent / 'opportunities.yaml'} --as {CURATOR}")
    say("   python -m bot run --once")
    for line in console:
        say(line)
    return 0


def _cards(world: DemoWorld, ids: list[int]) -> dict[int, Any] | None:
    """The newest card of each candidate in the curators' group, once all of them are there."""
    found = {}
    for message in world.telegram.messages(TG_CURATORS, by_bot=True, include_deleted=False):
        for cid in ids:
            if f"candidate #{cid}\n" in message.text:
                found[cid] = message
    return found if len(found) == len(ids) else None


async def _decide_on_telegram(
    app: Coalesce, world: DemoWorld, pending: list[Any], approve: list[Any], reject: list[Any]
) -> list[Outcome]:
    """Curator ana decides by tapping the cards in the emulated curators' group; then the
    amplifier runs, and the cards show what went out."""
    assert app.console is not None
    tg = world.telegram
    console = asyncio.create_task(app.console.run())
    try:
        cards = await tg.wait_for_async(lambda: _cards(world, [c.id for c in pending]), 30)
        say(f"\n4. Each candidate arrives as a card in the curators' Telegram group ({len(cards)} cards).")
        say(f"   Curator {CURATOR!r} decides from her phone, tapping the buttons:")
        for c, label in [(c, "✅ Approve") for c in approve] + [(c, "❌ Reject") for c in reject]:
            button = next(b for b in cards[c.id].buttons if b["text"] == label)
            tg.user_taps(CURATOR_TELEGRAM, cards[c.id], button["callback_data"])
            say(f"   taps {label} on #{c.id} ({c.author_name}, {c.platform})")
        await app.watch_once(Platform.TELEGRAM)  # the bot reads the taps from its update stream
        decided = [c.id for c in approve + reject]

        def settled() -> bool:
            shown = _cards(world, decided)
            return shown is not None and all(not card.buttons for card in shown.values())

        await tg.wait_for_async(settled, 30)
        shown = _cards(world, decided) or {}
        example = shown[approve[0].id].text.splitlines()[-1] if approve else ""
        say(f"   Each card is edited in place and its buttons go away, e.g. “{example}”.")
        say("\n5. The amplifier boosts what was approved, from the central account:")
        outcomes = await app.amplifier.run_due()
        app.console.poke()  # the cards say what went out

        def announced() -> bool:
            shown = _cards(world, [c.id for c in approve])
            return shown is not None and all("📣" in card.text for card in shown.values())

        await tg.wait_for_async(announced, 30)
        return outcomes
    finally:
        console.cancel()
        await asyncio.gather(console, return_exceptions=True)
