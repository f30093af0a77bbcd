"""``python -m bot block|member|health``: the runtime blocklist, per-member freeze and consent,
and whether the bot is keeping up."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bot.cli.main import EXIT_ERROR, EXIT_OK, Commands, _ensure_schema, _settings, _setup_logs
from bot.config import Settings
from bot.store import models as m
from bot.store.store import Store


def _open(args: argparse.Namespace) -> tuple[Settings, Store, datetime]:
    from bot.store.store import engine_for

    settings = _settings(args)
    _setup_logs(args, list(settings.secrets))
    engine = engine_for(settings)
    _ensure_schema(engine)
    now = datetime.now(UTC)
    return settings, Store.open(engine, settings.community.slug, settings.community.name, now), now


def _curator(settings: Settings, args: argparse.Namespace) -> str:
    return settings.curator(args.curator).name  # raises, listing the known curators


# -- block -------------------------------------------------------------------------------------


def cmd_block_add(args: argparse.Namespace) -> int:
    from bot.trust.safety import Blocklist

    settings, store, now = _open(args)
    new, withdrawn = Blocklist(store, settings).add(
        args.kind, args.value, _curator(settings, args), now, args.reason
    )
    print(f"{'Blocked' if new else 'Already blocked'}: {args.kind} {args.value}.")
    if withdrawn:
        print(f"{withdrawn} waiting candidate{'s' if withdrawn != 1 else ''} left the queue.")
    return EXIT_OK


def cmd_block_remove(args: argparse.Namespace) -> int:
    from bot.trust.safety import Blocklist

    settings, store, now = _open(args)
    if Blocklist(store, settings).remove(args.kind, args.value, _curator(settings, args), now):
        print(f"Unblocked: {args.kind} {args.value}. Posts from now on may reach the queue again.")
        return EXIT_OK
    print(f"{args.kind} {args.value} was not on the runtime blocklist (the config's is edited in the file).")
    return EXIT_ERROR


def cmd_block_list(args: argparse.Namespace) -> int:
    from bot.trust.safety import Blocklist

    settings, store, _ = _open(args)
    entries = Blocklist(store, settings).entries()
    config = settings.blocklist
    if args.json:
        rows: list[dict[str, Any]] = [
            {**e.__dict__, "added_at": e.added_at.isoformat(), "source": "runtime"} for e in entries
        ]
        for kind, values in (
            ("account", config.accounts),
            ("domain", config.domains),
            ("keyword", config.keywords),
        ):
            rows += [{"kind": kind, "value": v, "source": "config"} for v in values]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    for e in entries:
        why = f" — {e.reason}" if e.reason else ""
        print(f"{e.kind:8} {e.value:40} by {e.added_by} {e.added_at:%Y-%m-%d}{why}")
    for kind, values in (
        ("account", config.accounts),
        ("domain", config.domains),
        ("keyword", config.keywords),
    ):
        for value in values:
            print(f"{kind:8} {value:40} (config file)")
    if not entries and not (config.accounts or config.domains or config.keywords):
        print("Nothing is blocked.")
    return EXIT_OK


# -- member ------------------------------------------------------------------------------------


def cmd_member_freeze(args: argparse.Namespace) -> int:
    from bot.trust.safety import Freezer

    settings, store, now = _open(args)
    result = Freezer(store, settings).freeze(args.member, _curator(settings, args), now)
    print(f"Frozen: {', '.join(result.accounts)}. Nothing of theirs is amplified until unfrozen.")
    if result.undoing:
        hours = settings.trust.freeze_undo_hours
        print(
            f"{result.undoing} boost{'s' if result.undoing != 1 else ''} "
            f"of the last {hours:g} h will be taken back."
        )
    return EXIT_OK


def cmd_member_unfreeze(args: argparse.Namespace) -> int:
    from bot.trust.safety import Freezer

    settings, store, now = _open(args)
    result = Freezer(store, settings).unfreeze(args.member, _curator(settings, args), now)
    print(f"Unfrozen: {', '.join(result.accounts)}. Approved posts of theirs go ahead.")
    return EXIT_OK


def cmd_member_optout(args: argparse.Namespace) -> int:
    """A member asked by other means (an email, in person): record it as theirs."""
    from bot.trust.consent import ConsentRegistry
    from bot.trust.safety import find_member

    settings, store, now = _open(args)
    registry = ConsentRegistry(store, settings)
    curator = _curator(settings, args)
    with store.engine.begin() as conn:
        pk = find_member(conn, store, args.member)[0]
        summary = registry.opt_out_in(conn, pk, f"curator:{curator}", curator, now)
    print(
        f"Opted out ({summary.accounts} account{'s' if summary.accounts != 1 else ''}): "
        f"{summary.withdrawn} waiting withdrawn, {summary.undoing} boosts being taken back."
    )
    return EXIT_OK


def cmd_member_show(args: argparse.Namespace) -> int:
    from bot.trust.consent import ConsentRegistry
    from bot.trust.safety import find_member

    settings, store, _ = _open(args)
    registry = ConsentRegistry(store, settings)
    a = m.Account
    with store.engine.connect() as conn:
        pk = find_member(conn, store, args.member)[0]
        standing = registry.consent_of(conn, pk)
        pks = registry.person_accounts(conn, pk)
        accounts = conn.execute(
            select(a.platform, a.handle, a.consent, a.consent_source, a.frozen_by).where(a.id.in_(pks))
        ).all()
        amplified = conn.execute(
            select(m.Amplification.state, func.count())
            .join(m.Candidate, m.Candidate.id == m.Amplification.candidate_id)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .where(m.Post.account_id.in_(pks))
            .group_by(m.Amplification.state)
        ).all()
    if args.json:
        print(
            json.dumps(
                {
                    **standing,
                    "linked": [dict(r._mapping) for r in accounts],
                    "amplifications": {str(s): int(n) for s, n in amplified},
                },
                indent=2,
            )
        )
        return EXIT_OK
    consent = {"out": "opted out", "in": "opted in", None: "has said nothing"}[standing["consent"]]
    print(
        f"This member {consent}"
        + (", is frozen" if standing["frozen"] else "")
        + (", is blocked" if standing["blocked"] else "")
        + "."
    )
    for r in accounts:
        print(
            f"  {r.platform:9} {r.handle}" + (f"  ({r.consent} via {r.consent_source})" if r.consent else "")
        )
    if amplified:
        print("Amplifications: " + ", ".join(f"{n} {s}" for s, n in amplified))
    return EXIT_OK


# -- health ------------------------------------------------------------------------------------


def cmd_health(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.health import age, report

    settings, store, now = _open(args)
    stale = timedelta(minutes=args.stale_minutes) if args.stale_minutes else None
    result = report(store, settings, now, stale)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
        return EXIT_OK if result.ok else EXIT_ERROR
    for p in result.platforms:
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
    if not result.platforms:
        print("No platform is enabled in the config.")
    print(
        f"undos waiting: {result.undo_backlog}, undos given up: {result.undo_failed}, "
        f"replies to members waiting: {result.replies_waiting}"
    )
    return EXIT_OK if result.ok else EXIT_ERROR


def register(cli: Commands) -> None:
    from bot.trust.safety import KINDS

    add = cli.command
    block = cli.group("block", "the runtime blocklist: accounts, servers, Bluesky DIDs, keywords")
    for name, fn, text in (
        ("add", cmd_block_add, "block an account, a whole server (domain), a DID or a keyword"),
        ("remove", cmd_block_remove, "lift a runtime block"),
    ):
        p = add(name, fn, text, block)
        p.add_argument("kind", choices=KINDS)
        p.add_argument(
            "value", help="user@server, handle.bsky.social, @tguser, mastodon.example, did:plc:…, a word"
        )
        p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
        if name == "add":
            p.add_argument("--reason", help="a note for the other curators")
    listing = add("list", cmd_block_list, "what is blocked, at runtime and in the config", block)
    listing.add_argument("--json", action="store_true")

    member = cli.group("member", "one member: consent, linked accounts, freeze")
    for name, fn, text in (
        ("freeze", cmd_member_freeze, "stop amplifying a member and take back their last day's boosts"),
        ("unfreeze", cmd_member_unfreeze, "amplify a frozen member again"),
        ("optout", cmd_member_optout, "record an opt-out the member sent another way (email, in person)"),
    ):
        p = add(name, fn, text, member)
        p.add_argument("member", help="user@server, handle.bsky.social, @tguser or platform:account-id")
        p.add_argument("--as", dest="curator", required=True)
    show = add("show", cmd_member_show, "a member's consent, linked accounts and amplifications", member)
    show.add_argument("member")
    show.add_argument("--json", action="store_true")

    health = add(
        "health",
        cmd_health,
        "per platform: last successful watch, errors, queue; exit 1 when something is stale",
    )
    health.add_argument("--json", action="store_true")
    health.add_argument("--stale-minutes", type=float, help="default: trust.health_stale_minutes")
