"""The Telegram sandbox, driven by the real python-telegram-bot over loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageOriginChannel,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from sandbox.telegram import (
    FloodLimits,
    TelegramSandbox,
    detect_entities,
    parse_html,
    parse_markdown_v2,
)

# PTB 22 warns, even while building RetryAfter, that its int retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

CURATORS = -1001000000001
COMMUNITY = -1001000000002
CHANNEL = -1001000000003
ALICE = 111
SAM = 222
EVE = 333


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in pairs]])


def seconds(period: int | dt.timedelta) -> float:
    return period.total_seconds() if isinstance(period, dt.timedelta) else float(period)


def retry_after_of(err: RetryAfter) -> float:
    return seconds(err.retry_after)


def make_bot(sandbox: TelegramSandbox, token: str | None = None) -> Bot:
    return Bot(token or sandbox.token, base_url=sandbox.bot_base_url, base_file_url=sandbox.file_base_url)


@pytest.fixture
def sandbox() -> Iterator[TelegramSandbox]:
    with TelegramSandbox() as sb:
        alice = sb.add_user(ALICE, "Alice", "alice_md")
        sb.add_user(SAM, "Sam", "sam_stranger")
        sb.add_user(EVE, "Eve", "eve_private", hide_forwards=True)
        sb.add_chat(CURATORS, "supergroup", "Coalesce curators", members=[alice])
        sb.add_chat(COMMUNITY, "supergroup", "Latinas in Medicine")
        sb.add_chat(CHANNEL, "channel", "Coalesce", username="coalesce_central")
        sb.add_chat(ALICE, "private")
        yield sb


@pytest.fixture
async def bot(sandbox: TelegramSandbox) -> AsyncIterator[Bot]:
    async with make_bot(sandbox) as the_bot:
        yield the_bot


async def test_get_me_is_the_bot_the_token_names(bot: Bot, sandbox: TelegramSandbox) -> None:
    me = await bot.get_me()

    assert me.id == sandbox.bot.id == int(sandbox.token.split(":")[0])
    assert me.is_bot
    assert me.username == "CoalesceBot"
    assert bot.username == "CoalesceBot"  # cached by Bot.initialize from the same call


async def test_html_message_with_keyboard_then_edits_show_in_state(
    bot: Bot, sandbox: TelegramSandbox
) -> None:
    sent = await bot.send_message(
        CURATORS,
        'New <b>candidate</b> 🩺 by <i>@alice_md</i>: <a href="https://social.example/@a/1">post</a> '
        "<code>c-17</code> &lt;3",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(("Approve", "approve:17"), ("Reject", "reject:17")),
    )

    assert sent.text == "New candidate 🩺 by @alice_md: post c-17 <3"
    parsed = {e.type: text for e, text in sent.parse_entities().items()}
    assert parsed == {
        "bold": "candidate",
        "italic": "@alice_md",
        "mention": "@alice_md",
        "text_link": "post",
        "code": "c-17",
    }
    link = next(e for e in sent.entities if e.type == "text_link")
    assert link.url == "https://social.example/@a/1"
    assert sent.chat.id == CURATORS
    assert sent.from_user is not None
    assert sent.from_user.id == sandbox.bot.id
    assert isinstance(sent.date, dt.datetime)
    assert sent.reply_markup == keyboard(("Approve", "approve:17"), ("Reject", "reject:17"))

    edited = await bot.edit_message_text(
        "Approved by <b>Alice</b>",
        CURATORS,
        sent.message_id,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(("Undo", "undo:17")),
    )
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    stored = sandbox.message(CURATORS, sent.message_id)
    assert stored.text == "Approved by Alice"
    assert stored.entity_texts("bold") == ["Alice"]
    assert stored.callback_data == ["undo:17"]
    assert stored.edits == ["New candidate 🩺 by @alice_md: post c-17 <3"]

    await bot.edit_message_reply_markup(CURATORS, sent.message_id, reply_markup=None)
    stored = sandbox.message(CURATORS, sent.message_id)
    assert stored.reply_markup is None
    assert stored.text == "Approved by Alice"
    assert sandbox.sent_count(CURATORS) == 1


async def test_editing_to_the_same_content_is_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(CURATORS, "Pending", reply_markup=keyboard(("Approve", "a")))

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Pending", CURATORS, sent.message_id, reply_markup=keyboard(("Approve", "a"))
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Gone", CURATORS, 999)


async def test_edit_text_without_markup_drops_the_keyboard(bot: Bot, sandbox: TelegramSandbox) -> None:
    sent = await bot.send_message(CURATORS, "Pending", reply_markup=keyboard(("Approve", "a")))

    await bot.edit_message_text("Done", CURATORS, sent.message_id)

    assert sandbox.message(CURATORS, sent.message_id).reply_markup is None


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<b>approved</i>", 'Unmatched end tag at byte offset 11, expected "</b>", found "</i>"'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<p>paragraph</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("5 < 6", 'Unsupported start tag "" at byte offset 2'),
        ("done</b>", "Unexpected end tag at byte offset 4"),
        ('<a href="https://x.org">x', 'Can\'t find end tag corresponding to start tag "a"'),
    ],
)
async def test_broken_html_is_refused_like_telegram(
    bot: Bot, sandbox: TelegramSandbox, html: str, reason: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CURATORS, html, parse_mode=ParseMode.HTML)

    # PTB drops the "Bad Request: " prefix and runs str.capitalize() on what is left
    assert caught.value.message == f"Can't parse entities: {reason}".capitalize()
    call = sandbox.calls_to("sendMessage")[-1]
    assert (call.status, call.error) == (400, f"Bad Request: can't parse entities: {reason}")
    assert sandbox.sent_count(CURATORS) == 0


async def test_markdown_v2_needs_reserved_characters_escaped(bot: Bot) -> None:
    sent = await bot.send_message(
        CURATORS,
        r"*Weekly digest* for _5 Jan_ \- see [the list](https://ex.org/a\)b)\.",
        parse_mode="MarkdownV2",
    )
    assert sent.text == "Weekly digest for 5 Jan - see the list."
    assert {e.type: t for e, t in sent.parse_entities().items()} == {
        "bold": "Weekly digest",
        "italic": "5 Jan",
        "text_link": "the list",
    }
    assert next(e.url for e in sent.entities if e.url) == "https://ex.org/a)b"

    with pytest.raises(BadRequest, match=r"(?i)Character '.' is reserved"):
        await bot.send_message(CURATORS, "1. unescaped", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)Can't find end of Bold entity"):
        await bot.send_message(CURATORS, "*open bold", parse_mode="MarkdownV2")


async def test_message_over_4096_utf16_units_is_too_long(bot: Bot) -> None:
    await bot.send_message(CURATORS, "x" * 4096)

    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CURATORS, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CURATORS, "🩺" * 2049)  # 2049 characters, 4098 UTF-16 units
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CURATORS, "   ")


async def test_reply_parameters_and_link_preview_are_kept(bot: Bot, sandbox: TelegramSandbox) -> None:
    question = sandbox.user_sends(ALICE, COMMUNITY, "Any residency openings? #LatinasInMedicine")

    reply = await bot.send_message(
        COMMUNITY,
        "See https://ex.org/jobs",
        reply_to_message_id=question.message_id,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == question.message_id
    assert reply.reply_to_message.text == question.text
    assert reply.link_preview_options == LinkPreviewOptions(is_disabled=True)
    stored = sandbox.message(COMMUNITY, reply.message_id)
    assert stored.link_preview_options == {"is_disabled": True}
    assert stored.reply_to_message_id == question.message_id
    assert stored.entity_texts("url") == ["https://ex.org/jobs"]

    legacy = await bot.send_message(COMMUNITY, "No preview", disable_web_page_preview=True)
    assert sandbox.message(COMMUNITY, legacy.message_id).link_preview_options == {"is_disabled": True}

    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(COMMUNITY, "to nothing", reply_to_message_id=4242)
    lenient = await bot.send_message(
        COMMUNITY, "to nothing", reply_to_message_id=4242, allow_sending_without_reply=True
    )
    assert lenient.reply_to_message is None


async def test_application_long_polling_gets_commands_and_taps(sandbox: TelegramSandbox) -> None:
    app = (
        Application.builder()
        .token(sandbox.token)
        .base_url(sandbox.bot_base_url)
        .base_file_url(sandbox.file_base_url)
        .build()
    )
    nominated = asyncio.Event()
    tapped: asyncio.Queue[CallbackQuery] = asyncio.Queue()
    seen: dict[str, Message] = {}

    async def nominate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen["nomination"] = update.effective_message
        await context.bot.send_message(
            CURATORS, "Candidate 1", reply_markup=keyboard(("Approve", "approve:1"), ("Reject", "reject:1"))
        )
        nominated.set()

    async def decide(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        member = await context.bot.get_chat_member(CURATORS, query.from_user.id)
        if member.status in ("left", "kicked"):
            await query.answer("Only curators can decide", show_alert=True)
        else:
            await query.answer("Approved")
            await query.edit_message_reply_markup(None)
        await tapped.put(query)

    app.add_handler(CommandHandler("nominate", nominate))
    app.add_handler(CallbackQueryHandler(decide))

    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling()
        try:
            await sandbox.wait_for_async(lambda: sandbox.polls_waiting == 1)
            post = sandbox.user_sends(
                ALICE, COMMUNITY, "/nominate@CoalesceBot https://social.example/@b/9 #LatinasInMedicine"
            )
            await asyncio.wait_for(nominated.wait(), 5)

            message = seen["nomination"]
            assert message.message_id == post.message_id
            assert message.from_user is not None
            assert message.from_user.id == ALICE
            assert {e.type: t for e, t in message.parse_entities().items()} == {
                "bot_command": "/nominate@CoalesceBot",
                "url": "https://social.example/@b/9",
                "hashtag": "#LatinasInMedicine",
            }

            card = await sandbox.wait_for_async(lambda: sandbox.last_message(CURATORS))
            stranger = sandbox.user_taps(SAM, card, "approve:1")
            query = await asyncio.wait_for(tapped.get(), 5)
            assert query.data == "approve:1"
            assert query.message is not None
            assert query.message.message_id == card.message_id
            answer = await sandbox.wait_for_async(lambda: sandbox.answer_to(stranger))
            assert answer.show_alert
            assert answer.text == "Only curators can decide"
            assert answer.user_id == SAM

            curator = sandbox.user_taps(ALICE, card, "approve:1")
            await asyncio.wait_for(tapped.get(), 5)
            await sandbox.wait_for_async(
                lambda: sandbox.message(CURATORS, card.message_id).reply_markup is None
            )
            toast = sandbox.answer_to(curator)
            assert toast is not None
            assert not toast.show_alert
            assert toast.text == "Approved"
            assert [a.show_alert for a in sandbox.alerts] == [True, False]

            await sandbox.wait_for_async(lambda: sandbox.pending_updates == 0)
        finally:
            await app.updater.stop()
            await app.stop()

    assert sandbox.calls_to("deleteWebhook")
    assert all(call.status == 200 for call in sandbox.calls_to("sendMessage"))


async def test_get_updates_long_poll_wakes_when_an_update_arrives(bot: Bot, sandbox: TelegramSandbox) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await sandbox.wait_for_async(lambda: sandbox.polls_waiting == 1)
    assert not poll.done()

    sandbox.user_sends(ALICE, ALICE, "hello")
    updates = await asyncio.wait_for(poll, 5)

    assert time.monotonic() - started < 10
    assert [u.effective_message.text for u in updates if u.effective_message] == ["hello"]
    assert updates[0].effective_chat is not None
    assert updates[0].effective_chat.type == "private"
    assert sandbox.pending_updates == 1  # delivered, but not confirmed until the next offset

    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert sandbox.pending_updates == 0


async def test_get_updates_returns_empty_when_the_timeout_runs_out(
    bot: Bot, sandbox: TelegramSandbox
) -> None:
    started = time.monotonic()

    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_get_updates_limit_and_negative_offset(bot: Bot, sandbox: TelegramSandbox) -> None:
    for n in range(5):
        sandbox.user_sends(ALICE, COMMUNITY, f"post {n}")

    first_two = await bot.get_updates(limit=2)
    assert [u.message.text for u in first_two if u.message] == ["post 0", "post 1"]
    last = await bot.get_updates(offset=-1)
    assert [u.message.text for u in last if u.message] == ["post 4"]
    assert sandbox.pending_updates == 1


async def test_a_second_poller_terminates_the_first(bot: Bot, sandbox: TelegramSandbox) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await sandbox.wait_for_async(lambda: sandbox.polls_waiting == 1)

    async with make_bot(sandbox) as second_instance:  # e.g. a stale deployment still running
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)


async def test_answering_a_query_twice_is_refused(bot: Bot, sandbox: TelegramSandbox) -> None:
    card = await bot.send_message(CURATORS, "Candidate", reply_markup=keyboard(("Approve", "approve:2")))
    tap = sandbox.user_taps(ALICE, sandbox.message(CURATORS, card.message_id), "approve:2")

    assert await bot.answer_callback_query(tap.query_id, "Only curators can decide", show_alert=True)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(tap.query_id)
    assert len(sandbox.alerts) == 1
    with pytest.raises(ValueError, match=r"(?i)no button"):
        sandbox.user_taps(ALICE, sandbox.message(CURATORS, card.message_id), "forged")


async def test_copy_and_forward(bot: Bot, sandbox: TelegramSandbox) -> None:
    post = sandbox.user_sends(ALICE, COMMUNITY, "Matched in surgery! #LatinasInMedicine")

    copied = await bot.copy_message(CHANNEL, COMMUNITY, post.message_id)
    copy = sandbox.message(CHANNEL, copied.message_id)
    assert copy.text == post.text
    assert copy.entity_texts("hashtag") == ["#LatinasInMedicine"]
    assert copy.forward_origin is None
    assert copy.by_bot

    forwarded = await bot.forward_message(CHANNEL, COMMUNITY, post.message_id)
    assert isinstance(forwarded.forward_origin, MessageOriginUser)
    assert forwarded.forward_origin.sender_user.id == ALICE
    assert forwarded.text == post.text
    assert forwarded.sender_chat is not None
    assert forwarded.sender_chat.id == CHANNEL
    assert sandbox.sent_count(CHANNEL) == 2

    again = await bot.forward_message(COMMUNITY, CHANNEL, copied.message_id)
    assert isinstance(again.forward_origin, MessageOriginChannel)
    assert again.forward_origin.chat.id == CHANNEL
    assert again.forward_origin.message_id == copied.message_id

    private = sandbox.user_sends(EVE, COMMUNITY, "Hidden forwards")
    hidden = await bot.forward_message(CHANNEL, COMMUNITY, private.message_id)
    assert isinstance(hidden.forward_origin, MessageOriginHiddenUser)
    assert hidden.forward_origin.sender_user_name == "Eve"

    with pytest.raises(BadRequest, match=r"(?i)message to forward not found"):
        await bot.forward_message(CHANNEL, COMMUNITY, 9999)
    with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
        await bot.copy_message(CHANNEL, COMMUNITY, 9999)


async def test_delete_message_flags_it(bot: Bot, sandbox: TelegramSandbox) -> None:
    sent = await bot.send_message("@coalesce_central", "Oops")

    assert await bot.delete_message(CHANNEL, sent.message_id)
    assert sandbox.message(CHANNEL, sent.message_id).deleted
    assert sandbox.messages(CHANNEL, include_deleted=False) == []
    assert sandbox.sent_count(CHANNEL) == 1
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHANNEL, sent.message_id)


async def test_commands_chat_and_members(bot: Bot, sandbox: TelegramSandbox) -> None:
    await bot.set_my_commands([("nominate", "Nominate a post"), ("optout", "Stop amplifying my posts")])
    commands = await bot.get_my_commands()
    assert [(c.command, c.description) for c in commands] == [
        ("nominate", "Nominate a post"),
        ("optout", "Stop amplifying my posts"),
    ]
    assert sandbox.commands()[0]["command"] == "nominate"
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Not A Command", "x")])

    chat = await bot.get_chat(CURATORS)
    assert (chat.id, chat.type, chat.title) == (CURATORS, "supergroup", "Coalesce curators")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-42)

    assert (await bot.get_chat_member(CURATORS, ALICE)).status == "member"
    assert (await bot.get_chat_member(CURATORS, SAM)).status == "left"
    assert (await bot.get_chat_member(CURATORS, sandbox.bot.id)).status == "administrator"
    sandbox.set_member(CURATORS, SAM, "creator")
    assert (await bot.get_chat_member(CURATORS, SAM)).status == "creator"
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(CURATORS, 987654)


async def test_injected_429_is_retry_after(bot: Bot, sandbox: TelegramSandbox) -> None:
    sandbox.faults.retry_after(7, method="sendMessage")

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CURATORS, "Digest")

    assert retry_after_of(caught.value) == 7
    assert sandbox.too_many_requests == 1
    await bot.send_message(CURATORS, "Digest")  # the fault was armed once
    assert sandbox.sent_count(CURATORS) == 1


async def test_flood_control_follows_the_injected_clock() -> None:
    now = [1_000.0]
    with TelegramSandbox(realistic_limits=True, clock=lambda: now[0]) as sb:
        sb.add_user(ALICE, "Alice")
        sb.add_chat(ALICE, "private")
        sb.add_chat(CURATORS, "supergroup", "Curators")
        async with make_bot(sb) as bot:
            for _ in range(3):  # a short burst in a private chat is tolerated...
                await bot.send_message(ALICE, "hi")
            with pytest.raises(RetryAfter) as caught:  # ...then about one a second
                await bot.send_message(ALICE, "hi")
            assert retry_after_of(caught.value) == 1
            now[0] += 1.0
            await bot.send_message(ALICE, "hi again")

            for _ in range(20):  # twenty a minute in a group
                await bot.send_message(CURATORS, "candidate")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(CURATORS, "one too many")
            assert retry_after_of(caught.value) == 3
            now[0] += 3.0
            await bot.send_message(CURATORS, "after the pause")

        assert sb.too_many_requests == 2
        assert sb.sent_count(ALICE) == 4
        assert sb.sent_count(CURATORS) == 21


async def test_global_flood_limit_spans_chats() -> None:
    now = [0.0]
    limits = FloodLimits(private_burst=10, group_burst=10, global_per_second=2.0, global_burst=2)
    with TelegramSandbox(limits=limits, clock=lambda: now[0]) as sb:
        sb.add_chat(CURATORS, "supergroup", "Curators")
        sb.add_chat(COMMUNITY, "supergroup", "Community")
        async with make_bot(sb) as bot:
            await bot.send_message(CURATORS, "one")
            await bot.send_message(COMMUNITY, "two")
            with pytest.raises(RetryAfter):
                await bot.copy_message(CURATORS, COMMUNITY, 1)
            now[0] += 0.5
            await bot.copy_message(CURATORS, COMMUNITY, 1)


async def test_wrong_token_is_invalid_token(sandbox: TelegramSandbox) -> None:
    stranger_bot = make_bot(sandbox, token="7000000001:not-the-right-secret")
    try:
        with pytest.raises(InvalidToken, match=r"(?i)rejected by the server"):
            await stranger_bot.initialize()
    finally:
        await stranger_bot.shutdown()
    assert sandbox.calls_to("getMe") == []  # turned away before reaching the method


async def test_unknown_method_is_not_found(bot: Bot, sandbox: TelegramSandbox) -> None:
    # An initialised Bot knows its token is good, so PTB reads this 404 as a missing endpoint.
    with pytest.raises(EndPointNotFound, match="sendTelepathy"):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CURATORS})
    assert sandbox.calls_to("sendTelepathy") == []


async def test_blocked_and_kicked_are_forbidden(bot: Bot, sandbox: TelegramSandbox) -> None:
    sandbox.block_bot(ALICE)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(ALICE, "Your interview is scheduled")

    sandbox.set_member(COMMUNITY, sandbox.bot, "kicked")
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the group chat"):
        await bot.send_message(COMMUNITY, "hello")


async def test_malformed_json_is_a_telegram_error(bot: Bot, sandbox: TelegramSandbox) -> None:
    sandbox.faults.malformed("getMe")

    with pytest.raises(TelegramError, match=r"(?i)Invalid server response"):
        await bot.get_me()


async def test_server_errors_are_network_errors(bot: Bot, sandbox: TelegramSandbox) -> None:
    sandbox.faults.server_error(502, method="sendMessage")

    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(CURATORS, "Digest")


async def test_a_hanging_server_times_out(bot: Bot, sandbox: TelegramSandbox) -> None:
    sandbox.faults.hang(30, method="getMe")

    with pytest.raises(TimedOut):
        await bot.get_me(read_timeout=0.2)


async def test_a_slow_answer_after_the_work_leaves_the_client_unsure(
    bot: Bot, sandbox: TelegramSandbox
) -> None:
    sandbox.faults.delay_after(30, method="sendMessage")

    with pytest.raises(TimedOut):
        await bot.send_message(CURATORS, "Amplified", read_timeout=0.2)
    assert sandbox.sent_count(CURATORS) == 1  # it happened, though the client never heard


async def test_dropped_connection_is_a_network_error(bot: Bot, sandbox: TelegramSandbox) -> None:
    sandbox.faults.drop("getMe")

    with pytest.raises(NetworkError):
        await bot.get_me()


async def test_privacy_mode_hides_ordinary_group_chatter() -> None:
    with TelegramSandbox(privacy_mode=True) as sb:
        sb.add_user(ALICE, "Alice")
        # Privacy mode only applies to a bot that is not an admin there (bots/features#privacy-mode).
        sb.add_chat(COMMUNITY, "supergroup", "Community", bot_status="member")
        sb.user_sends(ALICE, COMMUNITY, "just chatting #LatinasInMedicine")
        assert sb.pending_updates == 0
        sb.user_sends(ALICE, COMMUNITY, "/nominate@CoalesceBot https://ex.org/p/1")
        sb.user_sends(ALICE, COMMUNITY, "hey @CoalesceBot look")
        assert sb.pending_updates == 2


async def test_waiting_gives_up_with_timeout_error(sandbox: TelegramSandbox) -> None:
    with pytest.raises(TimeoutError):
        await sandbox.wait_for_async(lambda: sandbox.sent_count() > 0, timeout=0.05)
    with pytest.raises(TimeoutError):
        sandbox.wait_for(lambda: sandbox.sent_count() > 0, timeout=0.05)


async def test_wait_for_from_a_thread_sees_the_bot_act(bot: Bot, sandbox: TelegramSandbox) -> None:
    waiting = asyncio.create_task(
        asyncio.to_thread(sandbox.wait_for, lambda: sandbox.last_message(ALICE), 5.0)
    )

    await bot.send_message(ALICE, "Welcome!")

    message = await asyncio.wait_for(waiting, 5)
    assert message is not None
    assert message.text == "Welcome!"


def test_user_edits_reach_the_bot_as_edited_message(sandbox: TelegramSandbox) -> None:
    post = sandbox.user_sends(ALICE, COMMUNITY, "draft")
    edited = sandbox.user_edits(post, "final #LatinasInMedicine")

    assert edited.edits == ["draft"]
    assert edited.entity_texts("hashtag") == ["#LatinasInMedicine"]
    assert sandbox.pending_updates == 2


def test_entities_count_utf16_units() -> None:
    text, entities = parse_html("🩺 <b>Dr. Ana</b> &amp; <tg-spoiler>x</tg-spoiler>")
    assert text == "🩺 Dr. Ana & x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 7},
        {"type": "spoiler", "offset": 13, "length": 1},
    ]
    assert detect_entities("🎉 #tag /start@CoalesceBot #123 x@y.org") == [
        {"type": "email", "offset": 32, "length": 7},
        {"type": "hashtag", "offset": 3, "length": 4},
        {"type": "bot_command", "offset": 8, "length": 18},
    ]


def test_pre_with_language_and_quotes() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><blockquote expandable>q</blockquote>'
    )
    assert text == "x = 1q"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 5, "length": 1},
    ]
    text, entities = parse_markdown_v2(">quoted\nplain ```py\nprint()```")
    assert text == "quoted\nplain print()"
    assert entities == [
        {"type": "blockquote", "offset": 0, "length": 6},
        {"type": "pre", "offset": 13, "length": 7, "language": "py"},
    ]


async def test_tg_user_links_become_text_mentions(bot: Bot) -> None:
    sent = await bot.send_message(
        CURATORS, f'Thanks <a href="tg://user?id={ALICE}">Alice</a>!', parse_mode=ParseMode.HTML
    )

    (mention,) = sent.entities
    assert mention.type == "text_mention"
    assert mention.user is not None
    assert mention.user.id == ALICE
    assert sent.parse_entity(mention) == "Alice"
