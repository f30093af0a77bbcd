"""A corpus of broken and hostile Mastodon items fed through watch: the bot does not crash, each
rejected item is logged with its id, everything that can be stored is, and the stream goes on.

The sandbox answers one hashtag-timeline page (and one notifications page) with exactly the
bytes built here, so the corpus can hold what a well-behaved server never sends: invalid
UTF-8, wrong types, a megabyte of text.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.bot.trust.conftest import make_adapter

TAG = "LatinasInMedicine"
JSON_UTF8 = {"Content-Type": "application/json; charset=utf-8"}


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


@pytest.fixture
async def app(engine: Engine, sandbox: MastodonSandbox, clock: FakeClock, settings: Settings) -> Coalesce:
    bot = Coalesce(
        settings, engine=engine, adapters={Platform.MASTODON: make_adapter(sandbox, clock)}, clock=clock
    )
    await bot.start()
    return bot


def _with(template: dict[str, Any], n: int, **changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(template)
    item["id"] = str(int(template["id"]) + n * 1000)
    item["uri"] = item["url"] = f"https://med.example/@maria/{item['id']}"
    for path, value in changes.items():
        target = item
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return item


_DELETE = object()

# (name, changes, stored?) — every entry becomes one status on the page.
CORPUS: list[tuple[str, dict[str, Any], bool]] = [
    ("missing account", {"account": _DELETE}, False),
    ("account is text", {"account": "maria"}, False),
    ("account id missing", {"account__id": _DELETE}, False),
    ("account id of 1,000 digits", {"account__id": "7" * 1000}, False),
    ("acct empty", {"account__acct": ""}, False),
    ("acct is a number", {"account__acct": 42, "account__id": "9998"}, True),
    ("missing created_at", {"created_at": _DELETE}, False),
    ("created_at is a number", {"created_at": 1767225600}, False),
    ("created_at is nonsense", {"created_at": "9999-99-99T99:99"}, False),
    ("missing content", {"content": _DELETE}, False),
    ("content is a list", {"content": ["<p>hi</p>"]}, False),
    ("tags is text", {"tags": "LatinasInMedicine"}, False),
    ("mentions is a number", {"mentions": 5}, False),
    ("missing id", {"id": _DELETE}, False),
    ("id is an object", {"id": {"$oid": "1"}}, False),
    ("tags hold numbers", {"tags": [1, 2, {"name": TAG.lower()}]}, True),
    ("one megabyte of text", {"content": "<p>" + "a" * 1_000_000 + f" #{TAG}</p>"}, True),
    (
        "RTL override and zero-width space in the handle",
        {"account__acct": "ma\u202eria\u200b_rtl", "account__id": "9999"},
        True,
    ),
    ("zero-width joiners in the display name", {"account__display_name": "Dra 👩\u200d⚕️\u200b"}, True),
    (
        "HTML and JavaScript in the text",
        {"content": '<p><script>alert(1)</script><img src=x onerror="alert(2)">hi</p>'},
        True,
    ),
    ("500 hashtags", {"tags": [{"name": f"tag{i}"} for i in range(500)] + [{"name": TAG.lower()}]}, True),
    ("emoji only", {"content": "<p>🎉🩺💜👩🏽\u200d⚕️</p>"}, True),
    ("NUL and a lone surrogate in the text", {"content": "<p>a\u0000b\ud800c</p>"}, True),
    ("language of 200 letters", {"language": "x" * 200}, True),
    ("display name is an object", {"account__display_name": {"en": "Maria"}}, True),
    ("note is a list", {"account__note": ["#nobot"]}, True),
    ("url is a number", {"url": 12345}, True),
    ("reply to an object", {"in_reply_to_id": {"id": "1"}}, True),
    ("spoiler text of 10,000 characters", {"spoiler_text": "cw " * 3400}, True),
]
NOT_OBJECTS: list[Any] = [None, 17, "a status", ["nested"]]
INVALID_UTF8 = b"\xff\xfe\xc3\x28 broken bytes"


def page_bytes(template: dict[str, Any]) -> tuple[bytes, int, int]:
    """The page as bytes (newest first, as Mastodon pages go), with the counts it holds."""
    items: list[Any] = [_with(template, i + 1, **changes) for i, (_, changes, _) in enumerate(CORPUS)]
    items += NOT_OBJECTS
    raw_utf8 = _with(template, len(CORPUS) + 1, content="<p>@@BYTES@@</p>")
    items.append(raw_utf8)
    body = json.dumps(list(reversed(items)), ensure_ascii=False).encode("utf-8", "surrogatepass")
    body = body.replace(b"@@BYTES@@", INVALID_UTF8)
    stored = sum(1 for *_, ok in CORPUS if ok) + 1  # the invalid UTF-8 one is read with U+FFFD
    rejected = len(CORPUS) + len(NOT_OBJECTS) + 1 - stored
    return body, stored, rejected


async def test_a_hostile_page_is_survived_item_by_item(
    app: Coalesce,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Before #{TAG}", created_at=clock.now() - timedelta(minutes=5))
    await app.run_once()
    template = sandbox.post(maria, f"Template #{TAG}")
    body, stored, rejected = page_bytes(template)
    sandbox.faults.add(r"/timelines/tag/", Fault("raw", 200, body=body, headers=JSON_UTF8), method="GET")
    caplog.set_level(logging.WARNING)

    report = await app.run_once()

    assert Platform.MASTODON not in report.errors
    result = report.ingested[Platform.MASTODON]
    assert result.stored == stored
    assert result.skipped.get("malformed") == rejected
    skipped_lines = [r for r in caplog.records if r.getMessage().startswith("skipped malformed")]
    assert len(skipped_lines) == rejected
    assert all(getattr(r, "id", None) for r in skipped_lines)  # each names the item it dropped
    with engine.connect() as conn:
        texts = {
            r.platform_post_id: r.text for r in conn.execute(select(m.Post.platform_post_id, m.Post.text))
        }
        handles = set(conn.execute(select(m.Account.handle)).scalars())
    assert max(len(t) for t in texts.values()) == 50_000
    assert not any("\x00" in t for t in texts.values())
    assert any("\ufffd" in t for t in texts.values())  # the invalid bytes, read as replacement characters
    assert "maria_rtl@med.example" in handles
    # The stream goes on past the page: a post written now is read on the next turn.
    sandbox.post(maria, f"After #{TAG}", created_at=clock.now() + timedelta(seconds=1))
    clock.advance(2)
    after = await app.run_once()
    assert after.ingested[Platform.MASTODON].stored == 2  # the template itself, and this one


def notification_page(template_note: dict[str, Any]) -> tuple[bytes, int]:
    def note(n: int, **changes: Any) -> dict[str, Any]:
        item = copy.deepcopy(template_note)
        item["id"] = str(int(template_note["id"]) + n)
        for key, value in changes.items():
            if value is _DELETE:
                del item[key]
            else:
                item[key] = value
        return item

    broken = [
        note(1, status=_DELETE),
        note(2, status="optout"),
        note(3, account=_DELETE),
        note(4, account=[1]),
        note(5, id={"x": 1}),
        None,
        "text",
    ]
    return json.dumps(list(reversed(broken))).encode(), len(broken)


async def test_broken_mentions_do_not_stop_opt_outs(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    await app.run_once()
    good = sandbox.post(maria, f"@{sandbox.central['acct']} optout")
    template = sandbox.notifications()[0]
    body, _ = notification_page(template)
    sandbox.faults.add(r"/notifications", Fault("raw", 200, body=body, headers=JSON_UTF8), method="GET")
    report = await app.run_once()
    assert Platform.MASTODON not in report.errors
    report = await app.run_once()  # the real notification, on the next read
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(m.Account.consent).where(m.Account.handle == "maria@med.example")
            ).scalar_one()
            == "out"
        )
        assert conn.execute(select(m.MemberRequest.request_ref)).scalar_one() == good["id"]


def bad_input_count() -> int:
    """How many bad inputs this corpus tries (for the closing note)."""
    return len(CORPUS) + len(NOT_OBJECTS) + 1 + 7
