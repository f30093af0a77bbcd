"""Conference mode and chats inside the running bot: the app's cycle watches an open conference's
tag and a chat's tag while they are active, queues conference posts with their badge, posts a
due chat question once and collects its answers — the real Mastodon.py on the sandbox."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from adapters.mastodon.normalize import html_to_text
from adapters.registry import settings_class
from bot.chats.runner import answers_of
from bot.clock import FakeClock
from bot.config import Settings, parse
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from bot.schema import Environment
from bot.store.store import Store
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import TOKEN, central_statuses, mastodon_adapter
from tests.conftest import BASE_CONFIG, StartApp


def _settings(sandbox: MastodonSandbox) -> Settings:
    platforms = {"mastodon": {"api_base_url": sandbox.base_url, "access_token": "${MASTODON_TOKEN}"}}
    return parse(
        {**BASE_CONFIG, "platforms": platforms},
        Environment({"MASTODON_TOKEN": TOKEN}),
        schemas=settings_class,
    )


async def test_an_open_conference_tag_is_watched_and_its_posts_queued_with_the_badge(
    start_app: StartApp, sandbox: MastodonSandbox, store: Store, clock: FakeClock
) -> None:
    settings = _settings(sandbox)
    fields = conf_ops.ConferenceFields(
        name="Spring Summit", tag="Summit26", starts_on="2026-03-02", ends_on="2026-03-03",
        timezone="America/Chicago", match="known_members",
    )  # fmt: skip
    assert conf_ops.add_conference(store, settings, fields, by="ana", now=clock.now()).exit_code == 0
    maria = sandbox.add_account("maria", display_name="Dra. María")
    sandbox.post(maria, "Matched into cardiology! #LatinasInMedicine")  # she takes part
    adapter = mastodon_adapter(sandbox.base_url, clock)
    app = await start_app(settings, {Platform.MASTODON: adapter}, clock=clock, worker="w1")
    assert app.watch_tags() == ("latinasinmedicine", "latinasenmedicina", "summit26")
    await app.run_once()
    # Only the conference's tag, from a member who took part: the watch must follow that tag.
    talk = sandbox.post(maria, "Keynote on equity in surgery #Summit26")
    clock.advance(seconds=60)
    report = await app.run_once()
    assert len(report.ingested[Platform.MASTODON].candidates) == 1
    pending = {c.url: c for c in Queue(store, settings).list("pending")}
    assert pending[talk["url"]].conference == "Spring Summit (#summit26)"
    # After the window the tag is no longer watched.
    clock.advance(seconds=(timedelta(days=2)).total_seconds())
    await app.run_once()
    assert app.watch_tags() == ("latinasinmedicine", "latinasenmedicina")


async def test_a_due_chat_question_goes_out_once_and_its_answers_are_collected(
    start_app: StartApp, sandbox: MastodonSandbox, store: Store, clock: FakeClock
) -> None:
    settings = _settings(sandbox)
    start = clock.now().astimezone(ZoneInfo("America/New_York"))
    fields = chat_ops.ChatFields(
        topic="Mentorship", host="Dra. Ruiz", tag="LIMchat", start=f"{start:%Y-%m-%d %H:%M}",
        timezone="America/New_York", questions=["0: What did a mentor do for you?"],
    )  # fmt: skip
    added = chat_ops.add_chat(store, settings, fields, by="ana", now=clock.now() - timedelta(days=3))
    assert added.exit_code == 0, added.message
    adapter = mastodon_adapter(sandbox.base_url, clock)
    app = await start_app(settings, {Platform.MASTODON: adapter}, clock=clock, worker="w1")
    assert "limchat" in app.watch_tags()
    assert app.gatherings.service in app.services  # the running app runs it, supervised
    report = await app.run_once()
    assert [(o.series, o.state) for o in report.gatherings] == [("chat:1:q1", "done")]
    (question,) = central_statuses(sandbox)
    text = html_to_text(question["content"])
    assert text.startswith("Q1: What did a mentor do for you? Answer with A1 and #limchat")
    assert "\u2060" not in text  # the chat's tag stays live in the question: members answer with it
    maria = sandbox.add_account("maria", display_name="Dra. María")
    answer = sandbox.post(maria, "A1 she read every draft of my personal statement #LIMchat")
    clock.advance(seconds=120)
    report = await app.run_once()
    assert {o.state for o in report.gatherings} == {"already"}
    assert len(central_statuses(sandbox)) == 1  # once
    chat = chat_ops.get_chat(store, 1)
    assert chat is not None
    (found,) = answers_of(store, chat)  # the account's own question, tag and marker in it, is none
    assert (found.question, found.handle, found.url) == (1, "maria@med.example", answer["url"])
