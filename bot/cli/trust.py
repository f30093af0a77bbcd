"""``python -m bot block|member|health``: the runtime blocklist, per-member freeze and consent,
and whether the bot is keeping up."""

from __future__ import annotations

import argparse
from datetime import timedelta

from bot.cli.context import open_context
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.health import age
from bot.ops import health as health_ops
from bot.ops import messages, safety
from bot.ops.result import Result

MEMBER_HELP = "user@server, handle.bsky.social, @tguser or platform:account-id"
CURATOR_HELP = "your curator name, as in the config"


# -- block -------------------------------------------------------------------------------------


def cmd_block_add(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    curator = ctx.curator(args.curator)
    return show(
        safety.block(ctx.store, ctx.settings, args.kind, args.value, curator, ctx.now, reason=args.reason),
        args,
    )


def cmd_block_remove(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    curator = ctx.curator(args.curator)
    return show(safety.unblock(ctx.store, ctx.settings, args.kind, args.value, curator, ctx.now), args)


def cmd_block_list(args: argparse.Namespace) -> int:
    ctx = open_context(args)

    def render(result: Result[tuple[safety.BlockRow, ...]]) -> None:
        for e in result.data or ():
            if e.source == "config":
                print(f"{e.kind:8} {e.value:40} (config file)")
                continue
            why = f" — {e.reason}" if e.reason else ""
            added = f"{e.added_at:%Y-%m-%d}" if e.added_at else ""
            print(f"{e.kind:8} {e.value:40} by {e.added_by} {added}{why}")
        if not result.data:
            print(result.message)

    return show(safety.list_blocks(ctx.store, ctx.settings), args, render)


# -- member ------------------------------------------------------------------------------------


def cmd_member_freeze(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    curator = ctx.curator(args.curator)
    return show(safety.freeze_member(ctx.store, ctx.settings, args.member, curator, ctx.now), args)


def cmd_member_unfreeze(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    curator = ctx.curator(args.curator)
    return show(safety.unfreeze_member(ctx.store, ctx.settings, args.member, curator, ctx.now), args)


def cmd_member_optout(args: argparse.Namespace) -> int:
    """A member asked by other means (an email, in person): record it as theirs."""
    ctx = open_context(args)
    curator = ctx.curator(args.curator)
    return show(safety.opt_out_member(ctx.store, ctx.settings, args.member, curator, ctx.now), args)


def cmd_member_show(args: argparse.Namespace) -> int:
    ctx = open_context(args)

    def render(result: Result[safety.MemberStanding]) -> None:
        standing = result.data
        assert standing is not None
        print(result.message)
        for r in standing.accounts:
            consent = f"  ({r['consent']} via {r['consent_source']})" if r["consent"] else ""
            print(f"  {r['platform']:9} {r['handle']}{consent}")
        if standing.amplifications:
            print("Amplifications: " + ", ".join(f"{n} {s}" for s, n in standing.amplifications.items()))

    return show(safety.member_standing(ctx.store, ctx.settings, args.member), args, render)


# -- health ------------------------------------------------------------------------------------


def cmd_health(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    now = ctx.now
    stale = timedelta(minutes=args.stale_minutes) if args.stale_minutes else None
    result = health_ops.health(ctx.store, ctx.settings, now, stale_after=stale)
    found = result.data
    assert found is not None
    if args.json:
        return show(result, args)
    if found.freeze.frozen:  # the curators' choice, shown first: nothing goes out until unfreeze
        print(messages.frozen_since(found.freeze.changed_by, found.freeze.changed_at))
    for p in found.report.platforms:
        mark = "STALE" if p.stale else "ok"
        print(
            f"{p.platform:9} {mark:5} last watch {age(p.last_ok_at, now)}, "
            f"last new item {age(p.last_progress_at, now)}"
        )
        waiting = ", ".join(f"{n} {s}" for s, n in sorted(p.queue.items())) or "nothing queued"
        print(f"{'':15} queue: {waiting}")
        if p.last_error:
            print(f"{'':15} last error {age(p.last_error_at, now)}: {p.last_error}")
        if p.why:
            print(f"{'':15} {p.why}")
    if not found.report.platforms:
        print(messages.NO_PLATFORM)
    r = found.report
    print(
        f"undos waiting: {r.undo_backlog}, undos given up: {r.undo_failed}, "
        f"replies to members waiting: {r.replies_waiting}"
    )
    return result.exit_code


def register(cli: Commands) -> None:
    add = cli.command
    block = cli.group("block", "the runtime blocklist: accounts, servers, Bluesky DIDs, keywords")
    for name, fn, text in (
        ("add", cmd_block_add, "block an account, a whole server (domain), a DID or a keyword"),
        ("remove", cmd_block_remove, "lift a runtime block"),
    ):
        p = add(name, fn, text, block)
        p.add_argument("kind", choices=safety.KINDS, help="what VALUE is: " + ", ".join(safety.KINDS))
        p.add_argument(
            "value", help="user@server, handle.bsky.social, @tguser, mastodon.example, did:plc:…, a word"
        )
        p.add_argument("--as", dest="curator", required=True, help=CURATOR_HELP)
        if name == "add":
            p.add_argument("--reason", help="a note for the other curators")
        add_json_option(p)
    listing = add("list", cmd_block_list, "what is blocked, at runtime and in the config", block)
    add_json_option(listing)

    member = cli.group("member", "one member: consent, linked accounts, freeze")
    for name, fn, text in (
        ("freeze", cmd_member_freeze, "stop amplifying a member and take back their last day's boosts"),
        (
            "unfreeze",
            cmd_member_unfreeze,
            "amplify a frozen member again (take-backs not yet made are called off)",
        ),
        ("optout", cmd_member_optout, "record an opt-out the member sent another way (email, in person)"),
    ):
        p = add(name, fn, text, member)
        p.add_argument("member", help=MEMBER_HELP)
        p.add_argument("--as", dest="curator", required=True, help=CURATOR_HELP)
        add_json_option(p)
    member_show = add(
        "show", cmd_member_show, "a member's consent, linked accounts and amplifications", member
    )
    member_show.add_argument("member", help=MEMBER_HELP)
    add_json_option(member_show)

    health = add(
        "health",
        cmd_health,
        "per platform: last successful watch, errors, queue, and any freeze; exit 1 when something is stale",
    )
    add_json_option(health)
    health.add_argument(
        "--stale-minutes",
        type=float,
        metavar="MINUTES",
        help="a platform not watched for this long is stale (default: trust.health_stale_minutes)",
    )
