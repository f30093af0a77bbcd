"""``python -m bot conferences|champions|chats``: conference mode and scheduled chats from the
command line. Each command only presents a result of ``bot.ops``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from bot.cli import meetups
from bot.cli.context import open_context
from bot.cli.main import Commands, add_mode_option, file_mode
from bot.cli.present import add_json_option, show
from bot.conference.model import MATCHES
from bot.config import Settings
from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from bot.ops import gatherings
from bot.ops.result import Result
from bot.store.store import Store


def _context(args: argparse.Namespace) -> tuple[Store, Settings, datetime]:
    ctx = open_context(args)
    return ctx.store, ctx.settings, ctx.now


def _own_json(value: Any) -> Any:
    """``value`` in the JSON form its type gives itself (conferences, chats and previews name their
    fields for people: ``from``/``to``, ``HH:MM``), lists of them item by item."""
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, list | tuple):
        return [_own_json(v) for v in value]
    return value


def _show(result: Result[Any], args: argparse.Namespace, lines: list[str] | None = None) -> int:
    def render(done: Result[Any]) -> None:
        print("\n".join([done.message, *(lines or [])]))

    if getattr(args, "json", False):
        result = Result(result.outcome, result.message, _own_json(result.data))
    return show(result, args, render)


def _fields(args: argparse.Namespace) -> conf_ops.ConferenceFields:
    return conf_ops.ConferenceFields(
        name=args.name,
        tag=getattr(args, "new_tag", None) or getattr(args, "tag", None),
        starts_on=args.starts_on,
        ends_on=args.ends_on,
        timezone=args.timezone,
        match=args.match,
        highlights_at=args.highlights_at,
    )


def cmd_conferences_add(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    return _show(conf_ops.add_conference(store, settings, _fields(args), by=args.curator, now=now), args)


def cmd_conferences_edit(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    fields = _fields(args)
    return _show(conf_ops.edit_conference(store, settings, args.tag, fields, by=args.curator, now=now), args)


def cmd_conferences_list(args: argparse.Namespace) -> int:
    store, _, now = _context(args)
    result = conf_ops.list_conferences(store)
    lines = []
    for c in result.data or []:
        state = "open now" if c.is_open(now) else ("over" if now >= c.closes else "coming")
        lines.append(
            f"#{c.tag}  {c.name}  {c.starts_on} to {c.ends_on} {c.timezone}  ({state}; "
            f"posts by {c.match}; highlights at {c.highlights_at:%H:%M})"
        )
        lines.extend(f"    champion: {name}" for name in c.champions)
    return _show(result, args, lines)


def cmd_conferences_remove(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    return _show(conf_ops.remove_conference(store, settings, args.tag, by=args.curator, now=now), args)


def cmd_champions_add(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    result = conf_ops.add_champion(
        store, settings, args.conference, args.platform, args.handle, by=args.curator, now=now
    )
    return _show(result, args)


def cmd_champions_remove(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    result = conf_ops.remove_champion(
        store, settings, args.conference, args.platform, args.handle, by=args.curator, now=now
    )
    return _show(result, args)


def cmd_chats_add(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    fields = chat_ops.ChatFields(
        topic=args.topic,
        host=args.host,
        tag=args.tag,
        start=args.start,
        timezone=args.timezone,
        languages=tuple(args.languages.split(",")),
        questions=list(args.question or []),
    )
    return _show(chat_ops.add_chat(store, settings, fields, by=args.curator, now=now), args)


def cmd_chats_list(args: argparse.Namespace) -> int:
    store, _, now = _context(args)
    result = chat_ops.chat_statuses(store, now)
    lines = []
    for status in result.data or []:
        c = status.chat
        lines.append(
            f"#{c.id}  {c.local_start:%Y-%m-%d %H:%M} {c.timezone}  #{c.tag}  {c.topic} (host {c.host})"
            f"  [{status.summary}]"
        )
        lines.extend(f"    Q{q.number} at :{q.offset:02d}  {q.in_(c.languages[0])}" for q in c.questions)
    return _show(result, args, lines)


def cmd_chats_remove(args: argparse.Namespace) -> int:
    store, settings, now = _context(args)
    return _show(chat_ops.remove_chat(store, settings, args.id, by=args.curator, now=now), args)


def _platforms(settings: Any) -> dict[Any, tuple[Any, str]]:
    from adapters.registry import limits_for, markup_for

    return {p: (limits_for(p), markup_for(p)) for p in settings.enabled_platforms()}


def cmd_highlights_preview(args: argparse.Namespace) -> int:
    store, settings, _ = _context(args)
    result = gatherings.preview_highlights(store, settings, args.tag, args.day, _platforms(settings))
    lines = []
    for platform, parts in (result.data.parts if result.data else {}).items():
        lines.append(f"--- {platform} ({len(parts)} part{'s' if len(parts) != 1 else ''})")
        lines.extend(f"[{i}] {part}" for i, part in enumerate(parts, 1))
    return _show(result, args, lines)


def _hold_or_release(args: argparse.Namespace, change: Any) -> int:
    from bot.clock import SystemClock

    store, settings, _ = _context(args)
    platforms = list(settings.enabled_platforms())
    return _show(change(store, settings, SystemClock(), args.tag, args.day, platforms, by=args.curator), args)


def cmd_highlights_hold(args: argparse.Namespace) -> int:
    return _hold_or_release(args, gatherings.hold_highlights)


def cmd_highlights_release(args: argparse.Namespace) -> int:
    return _hold_or_release(args, gatherings.release_highlights)


def cmd_conferences_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot import files
    from bot.conference.report import to_text

    store, settings, _ = _context(args)
    result = gatherings.report(store, settings, args.tag)
    if result.data is None:
        return _show(result, args)
    print(to_text(result.data), end="")
    mode = file_mode(args, settings)
    if args.csv:
        files.write_text(Path(args.csv), gatherings.report_csv(result.data), mode)
        print(f"CSV written to {args.csv}")
    picture = gatherings.report_chart(result.data) if args.png or args.html else None
    if args.png and picture:
        files.write_bytes(Path(args.png), picture, mode)
        print(f"Chart written to {args.png}")
    if args.html:
        files.write_text(Path(args.html), gatherings.report_page(result.data, picture), mode)
        print(f"Web page written to {args.html}")
    return result.exit_code


def cmd_chats_recap(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot import files

    store, settings, _ = _context(args)
    wanted = [(kind, path) for kind, path in (("markdown", args.markdown), ("html", args.html)) if path]
    for kind, path in wanted or [("markdown", None)]:
        result = gatherings.transcript(store, settings, args.id, kind)
        if result.data is None:
            return _show(result, args)
        if path is None:  # no file asked for: the Markdown on the terminal
            print(result.data.text, end="")
            return result.exit_code
        files.write_text(Path(path), result.data.text, file_mode(args, settings))
    print(result.message)
    return result.exit_code


def _as(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
    add_json_option(p)


def _conference_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--name", required=required, help="the conference's name")
    p.add_argument("--from", dest="starts_on", required=required, metavar="YYYY-MM-DD", help="first day")
    p.add_argument("--to", dest="ends_on", required=required, metavar="YYYY-MM-DD", help="last day")
    p.add_argument("--timezone", required=required, help="where it happens, like America/Chicago")
    p.add_argument(
        "--match",
        choices=MATCHES,
        help="queue posts with the conference tag and the community tag (default), or from known members",
    )
    p.add_argument("--highlights-at", metavar="HH:MM", help="local time of the daily highlights (20:00)")


def register(cli: Commands) -> None:
    add = cli.command
    conf = cli.group("conferences", "conferences the community follows (conference mode)")
    a = add("add", cmd_conferences_add, "add a conference: its tag, window and time zone", conf)
    a.add_argument("--tag", required=True, help="the conference hashtag, like ACSCC27")
    _conference_options(a, required=True)
    _as(a)
    e = add("edit", cmd_conferences_edit, "change a conference", conf)
    e.add_argument("tag", help="the conference's tag now")
    e.add_argument("--tag", dest="new_tag", help="a new tag")
    _conference_options(e, required=False)
    _as(e)
    ls = add("list", cmd_conferences_list, "the conferences, with their champions", conf)
    add_json_option(ls)
    rm = add("remove", cmd_conferences_remove, "remove a conference (its champions lose their role)", conf)
    rm.add_argument("tag", help="the conference's tag")
    _as(rm)

    hp = add("highlights", cmd_highlights_preview, "print exactly what a day's highlights would post", conf)
    hp.add_argument("tag", help="the conference's tag")
    hp.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="a local day of the conference")
    add_json_option(hp)
    hh = add("hold", cmd_highlights_hold, "keep a day's highlights from going out", conf)
    hh.add_argument("tag", help="the conference's tag")
    hh.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the local day to hold")
    _as(hh)
    hr = add("release", cmd_highlights_release, "let a held day's highlights go out after all", conf)
    hr.add_argument("tag", help="the conference's tag")
    hr.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the held local day")
    _as(hr)
    rp = add(
        "report", cmd_conferences_report, "after the conference: posts, authors, engagement, top posts", conf
    )
    rp.add_argument("tag", help="the conference's tag")
    rp.add_argument("--csv", metavar="FILE", help="also write the figures and top posts as CSV")
    rp.add_argument("--png", metavar="FILE", help="also draw the posts day by day as a PNG chart")
    rp.add_argument("--html", metavar="FILE", help="also write one web page with the chart and the tables")
    add_mode_option(rp)

    meetups.register_under(cli, conf)

    champ = cli.group("champions", "conference champions: members who decide their conference's posts")
    for name, fn, text in (
        ("add", cmd_champions_add, "name a member champion of a conference"),
        ("remove", cmd_champions_remove, "take the role back"),
    ):
        p = add(name, fn, text, champ)
        p.add_argument("--conference", required=True, help="the conference's tag")
        p.add_argument(
            "--platform", required=True, help="where the member posts (mastodon, bluesky, telegram)"
        )
        p.add_argument("--handle", required=True, help="her handle there, like maria@med.example")
        _as(p)

    chat = cli.group("chats", "scheduled community chats")
    c = add("add", cmd_chats_add, "schedule a chat: announcements and questions are posted on time", chat)
    c.add_argument("--topic", required=True, help="what the chat is about")
    c.add_argument("--host", required=True, help="who hosts it, as the announcement names them")
    c.add_argument("--tag", required=True, help="the chat hashtag, like HPMchat")
    c.add_argument("--start", required=True, metavar="'YYYY-MM-DD HH:MM'", help="local start time")
    c.add_argument("--timezone", required=True, help="the start time's zone, like America/New_York")
    c.add_argument("--languages", default="en", help="comma-separated, first one leads: en,es")
    c.add_argument(
        "--question",
        action="append",
        metavar="'MINUTES: text'",
        help="a question at its minute offset; a translation as 'MINUTES:es: texto' (repeat)",
    )
    _as(c)
    cl = add("list", cmd_chats_list, "the chats on the schedule", chat)
    add_json_option(cl)
    rc = add("recap", cmd_chats_recap, "the chat's recap (Markdown on the terminal, or files)", chat)
    rc.add_argument("id", type=int, help="the chat's number, as chats list shows it")
    rc.add_argument("--markdown", metavar="FILE", help="write the transcript as Markdown")
    rc.add_argument("--html", metavar="FILE", help="write the transcript as HTML for the website")
    add_mode_option(rc)
    cr = add("remove", cmd_chats_remove, "take a chat off the schedule", chat)
    cr.add_argument("id", type=int, help="the chat's number, as chats list shows it")
    _as(cr)
