"""Each documented Bot API rule our flows depend on, held by the sandbox: the real
python-telegram-bot ``Bot`` against it gets what Telegram's documentation says it gets.
The rules, with their sections, are listed in ``sandbox.telegram.rules.RULES``."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginHiddenUser,
    MessageOriginUser,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.clock import FakeClock
from sandbox.telegram import FloodLimits, TelegramSandbox, utf16_len
from sandbox.telegram.rules import start_message
from tests.adapters.telegram.conftest import (
    BEA,
    CHANNEL,
    COMMUNITY,
    CURATORS,
    MARIA,
)

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

NURSE = "👩🏽‍⚕️"  # 5 code points, 7 UTF-16 units: two astral characters, a joiner, a selector
OTHER_BOT = 9001


def seconds(period: int | dt.timedelta) -> float:
    return period.total_seconds() if isinstance(period, dt.timedelta) else float(period)


@pytest.fixture
async def bot(tg: TelegramSandbox) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.bot_base_url, base_file_url=tg.file_base_url) as the_bot:
        yield the_bot


def flooded(clock: FakeClock) -> TelegramSandbox:
    sandbox = TelegramSandbox(realistic_limits=True, clock=lambda: clock.now().timestamp())
    sandbox.add_user(MARIA, "María")
    sandbox.add_chat(MARIA, "private")
    sandbox.add_chat(COMMUNITY, "supergroup", "Community")
    return sandbox


@pytest.mark.rule("flood limits")
async def test_flood_limits_per_chat_per_group_and_overall(clock: FakeClock) -> None:
    with flooded(clock) as sandbox:
        async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
            for _ in range(3):  # a private chat: about one a second, a short burst tolerated
                await bot.send_message(MARIA, "hi")
            with pytest.raises(RetryAfter):
                await bot.send_message(MARIA, "too soon")
            clock.advance(seconds=1)
            await bot.send_message(MARIA, "a second later")

            for i in range(20):  # a group: twenty a minute
                await bot.send_message(COMMUNITY, f"message {i}")
            with pytest.raises(RetryAfter):
                await bot.send_message(COMMUNITY, "the 21st in the same minute")
            clock.advance(seconds=60)
            await bot.send_message(COMMUNITY, "a minute later")
        assert sandbox.too_many_requests == 2

    limits = FloodLimits(private_burst=50, group_burst=50, global_per_second=30, global_burst=30)
    with TelegramSandbox(limits=limits, clock=lambda: clock.now().timestamp()) as sandbox:
        for chat in range(40):
            sandbox.add_chat(-1002000000000 - chat, "supergroup", f"Group {chat}")
        async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
            for chat in range(30):  # about thirty a second over all chats together
                await bot.send_message(-1002000000000 - chat, "one each")
            with pytest.raises(RetryAfter):
                await bot.send_message(-1002000000030, "the 31st in that second")


@pytest.mark.rule("retry_after")
async def test_a_429_carries_retry_after_in_its_parameters(clock: FakeClock) -> None:
    with flooded(clock) as sandbox:
        async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
            for i in range(20):
                await bot.send_message(COMMUNITY, f"message {i}")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(COMMUNITY, "one too many")
        assert seconds(caught.value.retry_after) == 3  # 1/20 of a minute, rounded up to whole seconds
        async with httpx.AsyncClient() as http:  # and the body itself, as the docs shape it
            answer = await http.post(
                f"{sandbox.bot_base_url}{sandbox.token}/sendMessage",
                json={"chat_id": COMMUNITY, "text": "again"},
            )
        body = answer.json()
        assert answer.status_code == 429
        assert body["ok"] is False
        assert body["error_code"] == 429
        assert body["parameters"] == {"retry_after": 3}
        assert body["description"] == "Too Many Requests: retry after 3"


@pytest.mark.rule("delete within 48 hours")
async def test_delete_is_refused_48_hours_after_sending_but_editing_is_not(
    bot: Bot, tg: TelegramSandbox, clock: FakeClock
) -> None:
    early = await bot.send_message(CHANNEL, "deleted in time")
    late = await bot.send_message(CHANNEL, "kept too long")
    clock.advance(hours=47, minutes=59)
    assert await bot.delete_message(CHANNEL, early.message_id)
    clock.advance(minutes=1)

    with pytest.raises(BadRequest, match=r"^Message can't be deleted$"):
        await bot.delete_message(CHANNEL, late.message_id)
    assert not tg.message(CHANNEL, late.message_id).deleted
    # The bot's own posts stay editable: the documented way to take an old one back.
    edited = await bot.edit_message_text("withdrawn", chat_id=CHANNEL, message_id=late.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "withdrawn"

    mine = tg.user_sends(MARIA, COMMUNITY, "a member's old message")
    clock.advance(days=3)
    with pytest.raises(BadRequest, match=r"can't be deleted"):  # admins too, in the strict reading
        await bot.delete_message(COMMUNITY, mine.message_id)


@pytest.mark.rule("message is not modified")
async def test_an_edit_that_changes_nothing_is_refused(bot: Bot, tg: TelegramSandbox) -> None:
    keys = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="a:1")]])
    sent = await bot.send_message(CURATORS, "<b>card</b>", parse_mode=ParseMode.HTML, reply_markup=keys)

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>card</b>",
            chat_id=CURATORS,
            message_id=sent.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keys,
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=CURATORS, message_id=sent.message_id, reply_markup=keys)
    # Same letters without the bold is a change; so is the same text without the keyboard.
    await bot.edit_message_text("card", chat_id=CURATORS, message_id=sent.message_id, reply_markup=keys)
    await bot.edit_message_text("card", chat_id=CURATORS, message_id=sent.message_id)
    assert tg.message(CURATORS, sent.message_id).reply_markup is None


@pytest.mark.rule("text length in UTF-16")
async def test_text_is_at_most_4096_utf16_units_after_parsing(bot: Bot) -> None:
    await bot.send_message(CURATORS, "a" * 4096)
    await bot.send_message(CURATORS, "😀" * 2048)  # 2048 code points, 4096 units
    await bot.send_message(CURATORS, "<b>" + "&amp;" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    for too_long in ("a" * 4097, "😀" * 2048 + "a", NURSE * 586):
        assert len(too_long) <= 4097
        assert utf16_len(too_long) > 4096
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(CURATORS, too_long)


@pytest.mark.rule("caption length")
async def test_a_new_caption_is_at_most_1024_units(bot: Bot, tg: TelegramSandbox) -> None:
    source = tg.user_sends(MARIA, COMMUNITY, "#LatinasInMedicine a photo, say")
    await bot.copy_message(CHANNEL, COMMUNITY, source.message_id, caption="😀" * 512)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.copy_message(CHANNEL, COMMUNITY, source.message_id, caption="😀" * 512 + "!")


@pytest.mark.rule("entity offsets in UTF-16")
async def test_entity_offsets_count_utf16_units(bot: Bot, tg: TelegramSandbox) -> None:
    sent = await bot.send_message(
        CURATORS, f"{NURSE} <b>Dra. Ana</b> #LatinasInMedicine", parse_mode=ParseMode.HTML
    )
    bold = next(e for e in sent.entities if e.type == MessageEntity.BOLD)
    assert bold.offset == utf16_len(NURSE + " ") == 8  # not len(), which says 6
    assert sent.parse_entities() == {bold: "Dra. Ana", sent.entities[-1]: "#LatinasInMedicine"}

    said = tg.user_sends(MARIA, COMMUNITY, f"{NURSE}{NURSE} hi #LatinasInMedicine")
    (tag,) = said.entities
    assert tag["offset"] == 2 * 7 + 4
    assert said.entity_texts("hashtag") == ["#LatinasInMedicine"]


@pytest.mark.rule("callback_data 1-64 bytes")
async def test_callback_data_is_1_to_64_bytes(bot: Bot) -> None:
    def with_data(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data=data)]])

    await bot.send_message(CURATORS, "64 bytes", reply_markup=with_data("é" * 32))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):  # 33 characters, 66 bytes
        await bot.send_message(CURATORS, "65 bytes", reply_markup=with_data("é" * 33))


@pytest.mark.rule("button URLs")
async def test_button_urls_are_web_or_tg_links(bot: Bot) -> None:
    for good in ("https://example.org/p/1", "http://example.org", "tg://user?id=1"):
        await bot.send_message(
            CURATORS, "ok", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Open", url=good)]])
        )
    for bad in ("javascript:alert(1)", "ftp://example.org/x", "https://example.org/a b"):
        with pytest.raises(BadRequest, match=r"(?i)button_url_invalid"):
            await bot.send_message(
                CURATORS, "no", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Open", url=bad)]])
            )


@pytest.mark.rule("callback answer length")
async def test_a_callback_answer_is_at_most_200_units(bot: Bot, tg: TelegramSandbox) -> None:
    card = await bot.send_message(
        CURATORS, "card", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    )
    tap = tg.user_taps(1001, tg.message(CURATORS, card.message_id), "a")
    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(tap.query_id, "😀" * 101)
    assert await bot.answer_callback_query(tap.query_id, "😀" * 100)  # the refusal left it open
    answer = tg.answer_to(tap)
    assert answer is not None
    assert answer.text == "😀" * 100


@pytest.mark.rule("allowed_updates")
async def test_allowed_updates_filters_updates_made_after_the_call(bot: Bot, tg: TelegramSandbox) -> None:
    before = tg.user_sends(MARIA, COMMUNITY, "#LatinasInMedicine sent before the bot chose")
    got = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    # "doesn't affect updates created before the call": the earlier message still comes
    assert [u.message.message_id for u in got if u.message] == [before.message_id]

    tg.user_sends(MARIA, COMMUNITY, "#LatinasInMedicine sent after")
    card = await bot.send_message(
        CURATORS, "card", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    )
    tg.user_taps(1001, tg.message(CURATORS, card.message_id), "a")
    got = await bot.get_updates(offset=got[-1].update_id + 1, timeout=0)  # the setting is kept
    assert [(u.message is None, u.callback_query is not None) for u in got] == [(True, True)]

    await bot.get_updates(offset=got[-1].update_id + 1, timeout=0, allowed_updates=[])  # back to all
    tg.user_sends(MARIA, COMMUNITY, "#LatinasInMedicine and now")
    (update,) = await bot.get_updates(offset=got[-1].update_id + 1, timeout=0)
    assert update.message is not None
    assert update.message.text == "#LatinasInMedicine and now"


@pytest.mark.rule("replies to a missing message")
async def test_a_reply_to_a_missing_message_needs_allow_sending_without_reply(
    bot: Bot, tg: TelegramSandbox
) -> None:
    tg.user_sends(MARIA, MARIA, "/start")
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(MARIA, "answer", reply_parameters=ReplyParameters(9999))
    sent = await bot.send_message(
        MARIA, "answer", reply_parameters=ReplyParameters(9999, allow_sending_without_reply=True)
    )
    assert sent.reply_to_message is None
    assert tg.message(MARIA, sent.message_id).reply_to_message_id is None


@pytest.mark.rule("confirming updates")
async def test_an_update_is_confirmed_by_asking_past_it(bot: Bot, tg: TelegramSandbox) -> None:
    tg.user_sends(MARIA, COMMUNITY, "one")
    tg.user_sends(BEA, COMMUNITY, "two")
    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)  # no offset: nothing is confirmed, both come again
    assert [u.update_id for u in again] == [u.update_id for u in first]
    await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    assert tg.pending_updates == 1


@pytest.mark.rule("privacy mode")
async def test_privacy_mode_shows_a_group_only_what_is_meant_for_the_bot(clock: FakeClock) -> None:
    with TelegramSandbox(privacy_mode=True, clock=lambda: clock.now().timestamp()) as sb:
        sb.add_user(MARIA, "María")
        sb.add_user(OTHER_BOT, "Helper", "HelperBot", is_bot=True)
        sb.add_chat(COMMUNITY, "supergroup", "Community", bot_status="member")
        sb.add_chat(CURATORS, "supergroup", "Curators")  # the bot is an administrator there

        def seen(text: str, *, by: int = MARIA, chat: int = COMMUNITY, reply_to: int | None = None) -> bool:
            before = sb.pending_updates
            sb.user_sends(by, chat, text, reply_to=reply_to)
            return sb.pending_updates > before

        assert not seen("#LatinasInMedicine plain chatter")
        assert seen("/nominate@CoalesceBot")  # a command meant for it
        assert not seen("/nominate@HelperBot")  # one meant for another bot
        assert not seen("/nominate")  # a general command, and it was not the last bot to speak
        assert seen("hey @CoalesceBot, look")  # a mention
        async with Bot(sb.token, base_url=sb.bot_base_url) as bot:
            answer = await bot.send_message(COMMUNITY, "Thank you!")
        assert seen("/nominate")  # now it was the last bot to speak
        assert seen("thanks to you", reply_to=answer.message_id)  # a reply to its message
        assert not seen("I speak too", by=OTHER_BOT)
        assert not seen("/nominate")  # another bot spoke last
        assert seen("#LatinasInMedicine chatter", chat=CURATORS)  # an administrator sees it all
        assert not seen("bots never see bots", by=OTHER_BOT, chat=CURATORS)
        sb.add_chat(MARIA, "private")
        assert seen("anything at all", chat=MARIA)


@pytest.mark.rule("bots cannot start a conversation")
async def test_a_bot_cannot_write_first_to_a_person(bot: Bot, tg: TelegramSandbox) -> None:
    with pytest.raises(Forbidden, match=r"bot can't initiate conversation with a user"):
        await bot.send_message(MARIA, "hello")
    tg.user_sends(MARIA, MARIA, "/start")
    await bot.send_message(MARIA, "hello")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):  # nobody Telegram knows
        await bot.send_message(424242, "hello")


@pytest.mark.rule("deep-link payload")
async def test_a_start_link_hands_its_payload_to_the_bot(bot: Bot, tg: TelegramSandbox) -> None:
    tg.user_sends(MARIA, MARIA, start_message("https://t.me/CoalesceBot?start=iv_Ab-9", "CoalesceBot"))
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.text == "/start iv_Ab-9"
    assert update.message.parse_entities([MessageEntity.BOT_COMMAND]) == {
        update.message.entities[0]: "/start"
    }

    longest = "x" * 64
    assert start_message(f"https://t.me/coalescebot?start={longest}", "CoalesceBot") == f"/start {longest}"
    for lost in ("x" * 65, "iv+token", "iv.token", "iv%20token", ""):
        assert start_message(f"https://t.me/CoalesceBot?start={lost}", "CoalesceBot") == "/start"
    with pytest.raises(ValueError, match="not a link to"):
        start_message("https://t.me/OtherBot?start=iv1", "CoalesceBot")


@pytest.mark.rule("forward_origin")
async def test_a_forward_says_where_it_came_from(bot: Bot, tg: TelegramSandbox) -> None:
    tg.add_user(4001, "Quiet", "quiet_md", hide_forwards=True)
    by_maria = tg.user_sends(MARIA, COMMUNITY, "#LatinasInMedicine mine")
    by_quiet = tg.user_sends(4001, COMMUNITY, "#LatinasInMedicine hidden")
    posted = await bot.send_message(CHANNEL, "from the channel")

    user = await bot.forward_message(CURATORS, COMMUNITY, by_maria.message_id)
    hidden = await bot.forward_message(CURATORS, COMMUNITY, by_quiet.message_id)
    channel = await bot.forward_message(CURATORS, CHANNEL, posted.message_id)

    assert isinstance(user.forward_origin, MessageOriginUser)
    assert user.forward_origin.sender_user.id == MARIA
    assert isinstance(hidden.forward_origin, MessageOriginHiddenUser)
    assert hidden.forward_origin.sender_user_name == "Quiet"
    assert isinstance(channel.forward_origin, MessageOriginChannel)
    assert (channel.forward_origin.chat.id, channel.forward_origin.message_id) == (CHANNEL, posted.message_id)
    assert user.forward_origin.date == by_maria_date(tg, by_maria.message_id)
    # A forward of a forward keeps the first origin.
    twice = await bot.forward_message(CHANNEL, CURATORS, user.message_id)
    assert isinstance(twice.forward_origin, MessageOriginUser)
    assert twice.forward_origin.sender_user.id == MARIA


def by_maria_date(tg: TelegramSandbox, message_id: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(tg.message(COMMUNITY, message_id).date, dt.UTC)
