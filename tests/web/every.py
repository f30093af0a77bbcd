"""What the console-wide tests walk: every route of the real app (so a page added later is covered
by itself), a fingerprint of the whole store (to prove a refused request changed nothing), a store
holding a hostile string in every column a member (or a platform) can fill, and the checks an HTML
page must pass whatever the store holds."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import String, Text, insert, select, update
from sqlalchemy.exc import DBAPIError
from starlette.routing import BaseRoute, Mount, Route

from bot.chats.runner import ChatRunner
from bot.clock import FakeClock
from bot.domain import Author, Platform
from bot.ops import chats, conferences, interviews, meetups, opportunities, safety
from bot.ops import originals as originals_ops
from bot.ops import queue as q_ops
from bot.series.publisher import Publisher
from bot.store import models as m
from bot.store.store import Item, Store
from bot.web.app import create_app
from tests.factories import post
from tests.web.conftest import Console

# -- the routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    template: str  # "/queue/{id:int}/approve"
    method: str

    @property
    def section(self) -> str:
        return "/" + self.template.strip("/").split("/", 1)[0]


def endpoints(console: Console) -> list[Endpoint]:
    """Every (path, method) the app answers, mounted routes included, HEAD left out (it is GET)."""
    found: list[Endpoint] = []

    def walk(routes: list[BaseRoute], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                if route.routes:
                    walk(list(route.routes), prefix + route.path)
                else:  # an app mounted whole (the static files): it answers GET below it
                    found.append(Endpoint(prefix + route.path + "/{path}", "GET"))
            elif isinstance(route, Route):
                for method in sorted(route.methods or {"GET"}):
                    if method != "HEAD":
                        found.append(Endpoint(prefix + route.path, method))
            else:  # a kind of route these tests do not know how to reach: say so
                raise AssertionError(f"unknown route {route!r}")

    walk(list(create_app(console.deps).routes), "")
    return found


def fill(template: str, ids: dict[str, int]) -> str:
    """A concrete path: each ``{param}`` given the id of a row of that page (or a plain value)."""
    section = "/" + template.strip("/").split("/", 1)[0]
    plain = {"token": "not-a-real-token", "action": "freeze", "path": "app.css", "verb": "approve"}

    def value(match: re.Match[str]) -> str:
        name = match[1]
        return plain[name] if name in plain else str(ids.get(section, 1))

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, template)


# -- the store's fingerprint -----------------------------------------------------------------------


def snapshot(store: Store) -> dict[str, str]:
    """Every table's rows, hashed: two equal snapshots mean nothing at all was written."""
    out = {}
    with store.engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


# -- hostile strings -------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    " \tjavascript:alert(2)",
    "data:text/html,<script>alert(3)</script>",
    "vbscript:msgbox(4)",
    "'onmouseover='alert(5)' x='",
    "</textarea></title><style>*{display:none}</style><script src=//evil.example/x.js></script>",
    "maria\u202efdp.exe\u202c \u2066isolated\u2069 name",
    "long " + "W" * 4000 + " <b>end</b>",
    "nul\x00byte<script>alert(6)</script>",
]

# Every text column, in one of two lists. PLANTED: what a member (or a platform answering for
# one) can put there; the escaping test writes a hostile string into each. TRUSTED: what only the
# bot or a configured curator writes, each with the reason. A new column must go in one of them
# (test_every_text_column_is_classified), so no field escapes the escaping test by being new.
PLANTED: dict[str, tuple[str, ...]] = {
    "accounts": ("handle", "display_name", "url", "withheld"),
    "amplifications": ("receipt_url", "error"),
    "blocks": ("value", "reason"),
    "candidates": ("nominated_by", "last_error"),
    "chats": ("topic", "host"),
    "conferences": ("name",),
    "consent_events": ("detail",),
    "curator_alerts": ("text",),
    "decisions": ("reason",),
    "interviews": ("name", "handle", "text", "consent_text", "confirmed_via", "note", "answers"),
    "meetups": ("place", "ribbon"),
    "member_requests": ("argument", "reply_text", "reply_error"),
    "opportunities": ("title", "organisation", "url", "eligibility"),
    "original_decisions": ("reason",),
    "original_posts": ("text",),
    "posts": ("url", "text", "content_warning", "skip_reason", "quote_of", "reply_to"),
    "publications": ("error",),
    "publication_parts": ("receipt_url",),
    "safety_events": ("subject", "detail"),
    "undos": ("reason", "error"),
    "watch_health": ("last_error",),
}
TRUSTED: dict[str, str] = {
    "platform": "one of the Platform enum's values, written by the bot",
    "state": "a state name the bot writes",
    "kind": "a kind name the bot writes",
    "action": "an action name the bot writes",
    "lease_owner": "a worker's name",
    "worker": "a worker's name",
    "language": "a language code the bot checked",
    "languages": "language codes the bot checked",
    "timezone": "a time zone the bot checked",
    "series": "a configured series name",
    "tag": "a hashtag the bot checked (letters, digits, underscore)",
    "by": "a curator's configured name, 'member' or 'system'",
    "curator": "a curator's configured name",
    "added_by": "a curator's configured name",
    "removed_by": "a curator's configured name",
    "created_by": "a curator's configured name",
    "changed_by": "a curator's configured name",
    "named_by": "a curator's configured name",
    "invited_by": "a curator's configured name",
    "approved_by": "a curator's configured name",
    "withdrawn_by": "a curator's configured name",
    "requested_by": "a curator's configured name",
    "written_by": "a curator's configured name",
    "submitted_by": "a curator's configured name",
    "frozen_by": "a curator's configured name",
    "source": "where a row came from, a word the bot writes",
    "consent_source": "a word the bot writes",
    "own_consent_source": "a word the bot writes",
    "organisation_source": "a word the bot writes",
    "consent": "in / out / none",
    "own_consent": "in / out / none",
    "platform_account_id": "an id the platform gives, never shown as text",
    "platform_post_id": "an id the platform gives, never shown as text",
    "request_ref": "an id the platform gives",
    "receipt_ref": "an id the platform gives",
    "ref": "platform:id, made by the bot",
    "member_ref": "platform:id, made by the bot",
    "candidates.reason": "a queue reason code (hashtag, nomination…)",
    "settings": "JSON the bot wrote after checking it",
    "questions": "JSON of a chat's questions, written by a curator through the checked operation",
    "plan": "JSON of the parts the bot composed (each part planted through its source rows)",
    "hashtags": "tags the bot parsed",
    "automated": "a flag word",
    "url_key": "a normalised key, never shown",
    "platforms": "platform names the bot checked",
    "key": "a key the bot makes",
    "slug": "the configured slug",
    "communities.name": "the configured community name",
    "switches.name": "a switch's name, made by the bot",
    "cursors.value": "a cursor's position, never shown",
    "chat_id": "an id the platform gives",
    "message_id": "an id the platform gives",
    "delivery": "a state name the bot writes",
    "state_shown": "a state name the bot writes",
    "text_hash": "a hash",
    "reply_state": "a state name the bot writes",
    "outcome": "a word the bot writes",
    "session": "a platform session, never shown",
    "platform_sessions.account": "a configured account",
    "secret": "the deployment's secret, never shown",
    "session_hash": "a hash",
    "csrf_token": "a random token",
    "token_hash": "a hash",
    "code": "a random code",
    "decision": "a word the bot writes",
    "central_accounts.handle": "the central account's own handle, from the platform at start",
}


def unclassified() -> list[str]:
    """Text columns in neither PLANTED nor TRUSTED (a TRUSTED key is "table.column" or a column
    name that means the same in every table)."""
    return [
        f"{t}.{c}"
        for t, c, _ in text_columns()
        if c not in PLANTED.get(t, ()) and f"{t}.{c}" not in TRUSTED and c not in TRUSTED
    ]


def text_columns() -> Iterator[tuple[str, str, int | None]]:
    for table in m.Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String | Text):
                yield table.name, column.name, getattr(column.type, "length", None)


def plant(store: Store, value: str) -> None:
    """``value`` into every PLANTED column of every row (cut to the column's length; without NUL
    on PostgreSQL, which refuses it in text, so no row there can hold one)."""
    if store.engine.dialect.name == "postgresql":
        value = value.replace("\x00", "")
    lengths = {(t, c): n for t, c, n in text_columns()}
    for name, columns in PLANTED.items():
        table = m.Base.metadata.tables[name]
        values: dict[str, Any] = {}
        for column in columns:
            if (name, column) == ("interviews", "answers"):
                keys = ("role", "goals", "outside", "advice")
                values[column] = json.dumps(dict.fromkeys(keys, value))
            else:
                limit = lengths[(name, column)]
                values[column] = value[:limit] if limit else value
        try:
            with store.engine.begin() as conn:
                conn.execute(update(table).values(**values))
        except DBAPIError:  # append-only (a trigger refuses updates): a new row like its last, planted
            with store.engine.begin() as conn:
                last = conn.execute(select(table).order_by(*(c.desc() for c in table.primary_key))).first()
                assert last is not None, name
                keys = {c.name for c in table.primary_key}
                row = {k: v for k, v in last._mapping.items() if k not in keys}
                conn.execute(insert(table).values(**{**row, **values}))


def seed(console: Console) -> dict[str, int]:
    """A row in every table a page shows, made through the operations (as people make them):
    candidates decided and waiting, a nomination, a block, a frozen member, an opportunity, an
    interview with answers, an original post, a chat and a conference in the week (with a
    champion and a meet-up). Returns the id of one row per page section, for the routes that
    name one."""
    store, settings, clock = console.store, console.settings, console.deps.clock
    now = clock.now()
    runner = console.deps.series_runner
    assert runner is not None
    people = [Author(f"acc-{i}", f"member{i}@med.example", f"Member {i}") for i in range(3)]
    items = [Item(post(by=people[i % 3])) for i in range(5)]
    items.append(Item(post(by=people[0]), reason="nomination", nominated_by="ana"))
    ids = store.ingest(Platform.MASTODON, items, now).candidates
    queue = console.deps.curation
    assert q_ops.approve(queue, ids[0], "ana", now, reason="lovely").ok
    assert q_ops.reject(queue, ids[1], "rosa", now, reason="off topic").ok
    assert safety.block(store, settings, "domain", "spam.example", "ana", now, reason="spam wave").ok
    assert safety.freeze_member(store, settings, "member2@med.example", "rosa", now).ok
    added = opportunities.add(store, settings, now, "ana", title="Grant", url="https://grants.example/a")
    assert added.data is not None
    invited = interviews.invite(store, settings, now, "ana", name="Iris", handle="iris@med.example")
    assert invited.data is not None
    written = originals_ops.new(
        originals_ops.Deps(store, settings, runner().catalog),
        now,
        "ana",
        "A word from the curators #LatinasInMedicine",
        at=now + timedelta(days=2),
    )
    assert written.data is not None, written.message
    chat = chats.ChatFields(
        topic="Residency chat",
        host="member0@med.example",
        tag="LIMchat",
        start="2026-03-05 19:00",
        timezone="UTC",
        questions=["10: What helped?"],
    )
    assert chats.add_chat(store, settings, chat, by="ana", now=now).ok
    past = seed_past_chat(store, settings, now, people)
    conference = conferences.ConferenceFields(
        name="MedConf", tag="MedConf26", starts_on="2026-03-03", ends_on="2026-03-05", timezone="UTC"
    )
    medconf = conferences.add_conference(store, settings, conference, by="ana", now=now).data
    assert medconf is not None
    champion = conferences.add_champion(
        store, settings, "MedConf26", "mastodon", "member0@med.example", by="ana", now=now
    )
    assert champion.ok, champion.message
    meetup = meetups.MeetupFields(
        tag="MedConf26", at="2026-03-04 18:00", place="Hall B", ribbon="Teal ribbon"
    )
    assert meetups.add_meetup(store, settings, meetup, by="ana", now=now).ok
    return {
        "/conferences": medconf.id,
        "/queue": ids[2],
        "/opportunities": added.data.opportunity.id,
        "/interviews": invited.data.interview.id,
        "/compose": written.data.post.id,
        "/chats": past,
    }


def seed_past_chat(store: Store, settings: Any, now: datetime, people: list[Author]) -> int:
    """A chat held last week, with answers collected as the runner collects them: one per member
    to its first question (the third member's opted out: counted, never quoted). Its id."""
    start = now - timedelta(days=7)
    fields = chats.ChatFields(
        topic="Mentors we remember",
        host="member1@med.example",
        tag="LIMchat",
        start=start.strftime("%Y-%m-%d %H:%M"),
        timezone="UTC",
        questions=["0: Who was your mentor?", "10: What did she teach you?"],
    )
    added = chats.add_chat(store, settings, fields, by="ana", now=start - timedelta(days=2))
    assert added.data is not None, added.message
    during = start + timedelta(minutes=5)
    answers = [
        Item(
            post(f"A1 my mentor {i} #LIMchat", by=p, tags=("LIMchat",), now=during, age=timedelta(0)),
            skip="chat",
        )
        for i, p in enumerate(people)
    ]
    store.ingest(Platform.MASTODON, answers, during)
    with store.engine.begin() as conn:
        conn.execute(update(m.Account).where(m.Account.handle == people[2].handle).values(consent="out"))
    runner = ChatRunner(
        store, Publisher(store, {}, FakeClock(during), worker="seed"), settings, FakeClock(during)
    )
    assert runner.collect_answers(added.data, during) == len(people)
    return added.data.id


# -- what an HTML page must be ---------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "cite", "background", "data", "ping"}
NEVER = {"style", "iframe", "object", "embed", "base", "frame", "frameset", "applet", "svg", "math"}
HIDDEN = re.compile("[\x00\u202a-\u202e\u2066-\u2069]")


def safe_link(value: str) -> bool:
    """An address a page may carry: http(s) with a host, or a path on this site."""
    cleaned = re.sub(r"[\t\n\r]", "", value).strip()
    parts = urlsplit(cleaned)
    if parts.scheme:
        return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
    return not cleaned.startswith(("//", "\\", "/\\"))


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_script = False
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NEVER:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            if name in ("style", "srcset"):
                self.problems.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES and value is not None and not safe_link(value):
                self.problems.append(f"<{tag} {name}={value[:80]!r}>")
            if tag == "meta" and name == "http-equiv" and (value or "").lower() == "refresh":
                self.problems.append("<meta refresh>")
        if tag == "script":
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"<script src={src[:80]!r}>")
            self.scripts.append(src)
            self.in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append(f"inline script {data[:80]!r}")


def page_problems(html: str) -> list[str]:
    """What is wrong with a page: markup a member wrote that became markup, an href or src that is
    neither http(s) nor this site, an ``on…`` handler, inline script or style (the CSP would refuse
    them anyway), a NUL or a bidirectional control character."""
    checker = _Checker()
    checker.feed(html)
    checker.close()
    problems = checker.problems
    if HIDDEN.search(html):
        problems.append(f"hidden character {HIDDEN.search(html)[0]!r}")  # type: ignore[index]
    return problems


def html_of(response: httpx.Response) -> str | None:
    return response.text if response.headers.get("content-type", "").startswith("text/html") else None


def get(client: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """A GET that reads the body, except an event stream's (it never ends): its headers only."""
    with client.stream("GET", path, **kwargs) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    return response
