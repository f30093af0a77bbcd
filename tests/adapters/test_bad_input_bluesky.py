"""A corpus of broken and hostile Bluesky events fed through watch (Jetstream frames written byte
by byte into the sandbox's stream): no crash, each rejected event logged, the rest stored, and
the stream goes on past them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import BlueskyAdapter, make_client
from adapters.bluesky.settings import BlueskySettings
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from sandbox.bluesky import BlueskySandbox

TAG = "LatinasInMedicine"
POST = "app.bsky.feed.post"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[BlueskySandbox]:
    with BlueskySandbox(handle="latinasinmed.test", clock=clock.now) as sb:
        yield sb


def _adapter(sandbox: BlueskySandbox, clock: FakeClock) -> BlueskyAdapter:
    cfg = BlueskySettings(
        handle="latinasinmed.test",
        app_password=sandbox.password,
        service_url=sandbox.base_url,
        jetstream_url=sandbox.ws_url,
        jetstream_compress=False,
        caught_up_idle_seconds=0.3,
    )
    return BlueskyAdapter(make_client(cfg.service_url, timeout=5), cfg, clock=clock)


def _tagged(text: str) -> dict[str, Any]:
    """A post record with the hashtag facet an app would add (the tag at the very start)."""
    tag = f"#{TAG}"
    facet = {
        "index": {"byteStart": 0, "byteEnd": len(tag)},
        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": TAG}],
    }
    return {"$type": POST, "text": f"{tag} {text}", "createdAt": "2026-03-02T14:30:00Z", "facets": [facet]}


# (what is wrong, the record or a whole frame, whether it can be stored)
RECORDS: list[tuple[str, Any, bool]] = [
    ("one megabyte of text", _tagged("a" * 1_000_000), False),  # Bluesky allows 3,000 bytes
    ("HTML and JavaScript", _tagged("<script>alert(1)</script><img src=x onerror=alert(2)>"), True),
    ("emoji only", _tagged("🎉🩺💜👩🏽\u200d⚕️"), True),
    ("zero-width and direction marks", _tagged("\u202eevil\u200b text\u2066"), True),
    ("text is a number", {**_tagged(""), "text": 42}, False),
    ("text missing", {k: v for k, v in _tagged("").items() if k != "text"}, False),
    ("createdAt missing", {k: v for k, v in _tagged("x").items() if k != "createdAt"}, True),
    ("createdAt is nonsense", {**_tagged("x"), "createdAt": "the day after tomorrow"}, True),
    ("facets is text", {**_tagged("x"), "facets": "many"}, True),
    (
        "facet beyond the text",
        {**_tagged("x"), "facets": [{"index": {"byteStart": 5, "byteEnd": 900}}]},
        True,
    ),
    ("langs is text", {**_tagged("x"), "langs": "en"}, True),
    ("reply is text", {**_tagged("x"), "reply": "the parent"}, False),
    ("not an object", ["a", "list"], False),
]
HASHTAGS_500 = " ".join(f"#t{i}" for i in range(500))


def _commit(sandbox: BlueskySandbox, did: str, rkey: str, record: Any) -> dict[str, Any]:
    return {
        "$type": "message",
        "payload": {
            "$type": "network.bsky.jetstream.subscribeEvents#commit",
            "seq": sandbox.next_seq(),
            "did": did,
            "time": "2026-03-02T14:59:00.000001Z",
            "collection": POST,
            "rkey": rkey,
            "operation": "create",
            "cid": "bafyreib",
            "record": record,
        },
    }


async def test_a_hostile_stream_is_survived(
    engine: Engine,
    sandbox: BlueskySandbox,
    clock: FakeClock,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ana = sandbox.add_account("ana.test", display_name="A\u202ena\u200b 👩\u200d⚕️")
    app = Coalesce(
        settings, engine=engine, adapters={Platform.BLUESKY: _adapter(sandbox, clock)}, clock=clock
    )
    await app.start()
    try:
        await app.run_once()
        for i, (_, record, _) in enumerate(RECORDS):
            sandbox.emit_raw(json.dumps(_commit(sandbox, ana, f"3bad{i:02d}", record), ensure_ascii=False))
        sandbox.emit_raw(json.dumps(_commit(sandbox, ana, "3many", _tagged(HASHTAGS_500))))
        bytes_frame = json.dumps(_commit(sandbox, ana, "3bytes", _tagged("caf\udce9")), ensure_ascii=False)
        sandbox.emit_raw(bytes_frame.encode("utf-8", "surrogateescape"))  # a raw 0xE9: not UTF-8
        sandbox.emit_raw('{"$type":"message","payload":{"seq":1,"record":{"text":"#cut')  # ends mid-string
        sandbox.emit_raw("[1, 2, 3]")
        sandbox.emit_raw(json.dumps({"$type": "message", "payload": None}))
        sandbox.emit_raw(
            json.dumps({**_commit(sandbox, ana, "3nodid", _tagged("x")), "payload": {"rkey": "x"}})
        )
        sandbox.post(ana, f"A fine post after all that #{TAG}")
        caplog.set_level(logging.WARNING)
        report = await app.run_once()
    finally:
        await app.stop()

    assert Platform.BLUESKY not in report.errors, report.errors
    with engine.connect() as conn:
        stored = {
            r.platform_post_id.rpartition("/")[2]: r.text
            for r in conn.execute(select(m.Post.platform_post_id, m.Post.text))
        }
        names = set(conn.execute(select(m.Account.display_name)).scalars())
    assert "A fine post after all that" in " ".join(stored.values())
    for i, (what, _, storable) in enumerate(RECORDS):
        assert (f"3bad{i:02d}" in stored) is storable, what
    assert "3many" in stored
    assert "\ufffd" in stored["3bytes"]
    assert all("\x00" not in t for t in stored.values())
    assert "Ana 👩\u200d⚕️" in names  # the direction and zero-width marks are gone, the emoji kept
    dropped = [r for r in caplog.records if r.getMessage().startswith("skipped malformed")]
    assert len(dropped) >= sum(1 for *_, ok in RECORDS if not ok)


def bad_input_count() -> int:
    return len(RECORDS) + 6
