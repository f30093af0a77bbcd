"""A chat's answers that are plain replies to its question on Mastodon, through a whole app, the
real Mastodon.py (the members' clients too) and the Mastodon sandbox: the question goes out;
members reply without the chat tag (the client's ``@coalesce`` prefix kept, as Mastodon clients
write it); the next cycle stores and counts those answers, an opted-out member's counted and never
quoted, a followers-only reply not stored; none of the replies is queued; and a mention in reply
to a member's post still nominates it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mastodon import Mastodon
from sqlalchemy import Engine, select

from adapters.mastodon.normalize import html_to_text
from bot.chats.model import ANSWERS_AFTER
from bot.chats.recap import to_markdown
from bot.chats.runner import answers_of, series_of
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ops import chats as chat_ops
from bot.ops.result import Outcome
from bot.store import models as m
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import central_statuses, mastodon_adapter
from tests.conftest import StartApp

ZONE = "America/New_York"
TAG = "LatinasInMedicine"


def client_of(sandbox: MastodonSandbox, account: dict[str, Any]) -> Mastodon:
    """A member's own Mastodon.py client, as her app would be."""
    return Mastodon(
        api_base_url=sandbox.base_url,
        access_token=sandbox.issue_token(account),
        version_check_mode="none",
        request_timeout=5,
    )


def stored(engine: Engine) -> dict[str, int]:
    """Stored Mastodon posts: platform id -> row id."""
    with engine.connect() as conn:
        rows = conn.execute(select(m.Post.platform_post_id, m.Post.id).where(m.Post.platform == "mastodon"))
        return {r.platform_post_id: r.id for r in rows}


def queued(engine: Engine) -> list[Any]:
    """Candidates: id, post row id, reason."""
    with engine.connect() as conn:
        return list(conn.execute(select(m.Candidate.id, m.Candidate.post_id, m.Candidate.reason)))


async def test_plain_replies_to_a_question_are_counted_and_a_nomination_still_nominates(
    start_app: StartApp, sandbox: MastodonSandbox, settings: Settings, clock: FakeClock, engine: Engine
) -> None:
    app = await start_app(settings, {Platform.MASTODON: mastodon_adapter(sandbox.base_url, clock)})
    assert (await app.run_once()).errors == {}  # first start: the mentions cursor begins now
    maria, elena, rosa, cy = (sandbox.add_account(n) for n in ("maria", "elena", "rosa", "cy"))
    nina = sandbox.add_account("nina", "far.example")  # on another server, federated in
    client_of(sandbox, elena).status_post("@coalesce optout", visibility="direct")
    assert (await app.run_once()).errors == {}
    with engine.connect() as conn:
        consent = dict(conn.execute(select(m.Account.handle, m.Account.consent)).all())
    assert consent["elena@med.example"] == "out"
    before = len(central_statuses(sandbox))  # the private answer to her opt-out

    starts = (clock.now() + timedelta(minutes=3)).replace(second=0, microsecond=0)
    fields = chat_ops.ChatFields(
        topic="Mentorship in residency", host="Dra. Ruiz", tag="LIMchat",
        start=starts.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M"), timezone=ZONE,
        questions=["0: What did a mentor do for you?"],
    )  # fmt: skip
    added = chat_ops.add_chat(app.store, settings, fields, by="ana", now=clock.now())
    assert added.outcome is Outcome.DONE, added.message
    assert added.data is not None
    chat = added.data
    clock.advance((starts - clock.now()).total_seconds())
    report = await app.run_once()
    assert [(o.series, o.state) for o in report.gatherings] == [(series_of(chat.id, "q1"), "done")]
    (question,) = central_statuses(sandbox)[before:]
    assert html_to_text(question["content"]).startswith("Q1: What did a mentor do for you?")

    clock.advance(minutes=2)
    said = client_of(sandbox, maria).status_post(
        "@coalesce She listened first.", in_reply_to_id=question["id"]
    )
    quiet = client_of(sandbox, elena).status_post(
        "@coalesce My first boss, quietly.", in_reply_to_id=question["id"]
    )  # opted out: counted, never quoted
    tagged = client_of(sandbox, cy).status_post(
        f"@coalesce Office hours every week #{TAG}", in_reply_to_id=question["id"]
    )  # a reply with the community's tag: seen twice, stored once, still no candidate
    sandbox.post(nina, "@coalesce@med.example A nurse who stayed late.", in_reply_to=question["id"])
    hidden = client_of(sandbox, rosa).status_post(
        "@coalesce Only for my followers.", in_reply_to_id=question["id"], visibility="private"
    )
    achievement = client_of(sandbox, maria).status_post("I matched into cardiology today!")  # untagged
    nominating = client_of(sandbox, rosa).status_post(
        "@coalesce this deserves a spotlight", in_reply_to_id=achievement["id"]
    )
    nina_reply = sandbox.statuses_by(nina["id"])[0]

    clock.advance(minutes=1)
    assert (await app.run_once()).errors == {}  # the next cycle
    posts = stored(engine)
    answers = {str(said["id"]), str(quiet["id"]), str(tagged["id"]), str(nina_reply["id"])}
    assert answers <= posts.keys()
    assert str(hidden["id"]) not in posts  # followers-only: not written for a public recap
    assert str(nominating["id"]) not in posts  # a nomination's own words are its note, not a post
    with engine.connect() as conn:
        counted = set(
            conn.execute(
                select(m.Post.platform_post_id).join(m.ChatAnswer, m.ChatAnswer.post_id == m.Post.id)
            ).scalars()
        )
    assert counted == answers
    assert sorted(a.handle for a in answers_of(app.store, chat)) == sorted(
        ["maria@med.example", "elena@med.example", "cy@med.example", "nina@far.example"]
    )
    (candidate,) = queued(engine)  # the nomination, and none of the replies
    assert (candidate.post_id, candidate.reason) == (posts[str(achievement["id"])], "nomination")
    view = app.queue.show(candidate.id)
    assert view.nominated_by == "rosa@med.example"
    assert "cardiology" in view.text

    recap = app.gatherings.chats.recap(chat, clock.now())
    assert (recap.answers, recap.participants) == (4, {"mastodon": 4})
    (q1,) = recap.questions
    assert sorted(a.handle for a in q1.quoted) == ["cy@med.example", "maria@med.example", "nina@far.example"]
    assert q1.withheld == 1
    transcript = to_markdown(recap)
    assert "She listened first." in transcript
    assert "first boss" not in transcript
    assert "elena" not in transcript
    assert "Only for my followers" not in transcript

    clock.advance((starts + ANSWERS_AFTER - clock.now()).total_seconds() + 60)
    report = await app.run_once()  # the recap thread goes out, from the answers stored
    assert (series_of(chat.id, "recap"), "done") in [(o.series, o.state) for o in report.gatherings]
    thread = " ".join(html_to_text(s["content"]) for s in central_statuses(sandbox)[before + 1 :])
    assert "She listened first." in thread
    assert "first boss" not in thread
    assert "elena" not in thread
    assert "+ 1 more from members who keep their posts to themselves." in thread
