"""The pure parts of trust: reading member commands, card flags, the naming-a-curator check,
input cleaning, and the request budget's arithmetic on a FakeClock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.flags import card_flags, mentions_in
from bot.domain import Author, Batch, MemberRequest, Platform
from bot.errors import ConfigError, RateLimited
from bot.sanitize import Rejected, clean_batch, clean_post
from bot.trust import member_commands as cmd
from bot.trust.budget import Budget, Limit
from bot.trust.curator_names import names_a_curator
from bot.trust.settings import FlagSettings
from tests.conftest import make_settings
from tests.factories import author, post

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@latinasinmed optout", ("optout", None)),
        ("@latinasinmed@medicine.example Opt out!", ("optout", None)),
        ("@central opt-out.", ("optout", None)),
        ("/optout@CoalesceBot", ("optout", None)),
        ("OPTIN", ("optin", None)),
        ("opt in please", ("optin", None)),
        ("Opt–out please 🙏", ("optout", None)),
        ("@central link yes", ("link_yes", None)),
        ("@central link", ("link", None)),
        ("@central link k7pq-4mxa", ("link", "K7PQ4MXA")),
        ("/link K7PQ 4MXA", ("link", "K7PQ4MXA")),
        ("@central this deserves a boost!", None),
        ("@central how do I opt out of this?", None),
        ("@central opt out of this thread", ("help", None)),  # unclear, to the bot: how to ask
        ("I will never optout of this community, it is the best thing since residency", None),
        ("", None),
    ],
)
def test_member_commands_are_the_whole_message(text: str, expected: tuple[str, str | None] | None) -> None:
    assert cmd.parse(text) == expected


def test_codes_read_back_in_two_halves() -> None:
    assert cmd.format_code("K7PQ4MXA") == "K7PQ-4MXA"
    assert cmd.normalize_code(" k7pq - 4mxa ") == "K7PQ4MXA"


# -- flags ---------------------------------------------------------------------------------------


def test_each_flag_is_earned_and_none_without_cause() -> None:
    cfg = FlagSettings()
    assert (
        card_flags(cfg, text="Matched into pediatrics!", now=NOW, author_created_at=NOW - timedelta(days=900))
        == []
    )
    flags = card_flags(
        cfg,
        text="@a @b @c@x.example @d.bsky.social @e look at this",
        now=NOW,
        author_created_at=NOW - timedelta(days=3),
        stranger_replies=14,
    )
    assert [f.code for f in flags] == ["new_account", "many_mentions", "stranger_replies"]
    assert flags[0].text == "author's account opened 3 days ago"
    assert flags[1].text == "mentions 5 accounts"


@pytest.mark.parametrize(
    "text",
    [
        "Pt DOB: 03/14/1988 came in with chest pain",
        "MRN 00482913 needs follow-up",
        "My patient, a 34 yo F, taught me so much today",
        "a 7-year-old with asthma, my patient for years",
        "Mi paciente de 82 años me dio las gracias",
        "my patient in room 12 finally went home",
    ],
)
def test_text_that_may_identify_a_patient_is_flagged_without_quoting_it(text: str) -> None:
    (flag,) = card_flags(FlagSettings(), text=text, now=NOW)
    assert flag.code == "patient_info"
    assert not any(part in flag.text for part in ("03/14", "00482913", "34", "82", "12"))


def test_a_community_adds_its_own_patterns_and_bad_ones_name_their_key() -> None:
    settings = make_settings(trust={"flags": {"patient_patterns": [r"\bbed \d+"]}})
    assert [f.code for f in card_flags(settings.trust.flags, text="bed 4 is stable", now=NOW)] == [
        "patient_info"
    ]
    with pytest.raises(ConfigError) as info:
        make_settings(trust={"flags": {"patient_patterns": ["(unclosed"]}})
    assert info.value.key == "trust.flags.patient_patterns[0]"


def test_mentions_are_counted_once_each() -> None:
    assert mentions_in("@ana @ana @rosa@med.example email me at a@b.example") == 2


def test_our_own_text_never_singles_out_a_curator(settings: Settings) -> None:
    assert names_a_curator("This week's digest, chosen by the curators", settings) is None
    assert names_a_curator("Thanks to Ana for picking these", settings) == "ana"
    assert names_a_curator("cc @rosa@med.example", settings) == "rosa"
    assert names_a_curator("Ananya's fellowship", settings) is None  # a name inside another word


# -- cleaning input ------------------------------------------------------------------------------


def test_handles_lose_invisible_characters_and_names_keep_emoji() -> None:
    sneaky = author("spam\u200b4u@med.example", account_id="9")
    cleaned = clean_post(post(by=sneaky))
    assert cleaned.author.handle == "spam4u@med.example"
    doctor = Author(account_id="7", handle="x@y.example", display_name="Dra \u202eRuiz 👩\u200d⚕️")
    assert clean_post(post(by=doctor)).author.display_name == "Dra Ruiz 👩\u200d⚕️"


def test_text_is_made_storable_and_ids_that_cannot_be_stored_are_rejected() -> None:
    cleaned = clean_post(post(text="a\x00b \ud800 c" + "x" * 60_000))
    assert "\x00" not in cleaned.text
    assert "\ud800" not in cleaned.text
    assert len(cleaned.text) == 50_000
    with pytest.raises(Rejected, match="post_id"):
        clean_post(post(post_id="9" * 600))
    with pytest.raises(Rejected, match=r"author\.account_id is missing"):
        clean_post(post(by=Author(account_id="", handle="x@y.example")))
    with pytest.raises(Rejected, match="text is int"):
        clean_post(post(text=42))  # type: ignore[arg-type]


def test_a_batch_keeps_what_it_can_and_counts_the_rest() -> None:
    good, bad = post(), post(post_id="  ")
    member = author()
    batch = Batch(
        source="s",
        cursor="1",
        posts=[good, bad],
        requests=[MemberRequest("optout", member, Platform.MASTODON, reply_ref="r" * 900)],
    )
    cleaned, rejected = clean_batch(batch)
    assert [p.post_id for p in cleaned.posts] == [good.post_id]
    assert cleaned.malformed == 1
    assert rejected[0][1] == "post_id is missing"
    assert cleaned.requests[0].reply_ref is None  # too long to be a platform's id: not threaded


# -- the request budget --------------------------------------------------------------------------


async def test_the_budget_keeps_to_ninety_percent_of_a_sliding_window() -> None:
    clock = FakeClock(NOW)
    budget = Budget([Limit("requests", 300, 300.0)], clock)
    for _ in range(270):
        await budget.spend()
        clock.advance(0.1)
    with pytest.raises(RateLimited) as info:
        await budget.spend()
    assert 272 <= info.value.retry_after <= 274  # when the first of the 270 leaves the window
    clock.advance(info.value.retry_after)
    await budget.spend()


async def test_the_server_s_word_holds_every_worker_back() -> None:
    clock = FakeClock(NOW)
    budget = Budget([Limit("requests", 300, 300.0)], clock)
    budget.observe("requests", remaining=31, limit=300, reset_in=120)
    await budget.spend()  # 31 left: above the 10 % kept in reserve
    budget.observe("requests", remaining=30, limit=300, reset_in=120)
    with pytest.raises(RateLimited) as info:
        await budget.spend()
    assert info.value.retry_after == pytest.approx(120)
    clock.advance(121)
    await budget.spend()


async def test_a_budget_may_wait_out_short_gaps_on_the_clock() -> None:
    clock = FakeClock(NOW)
    budget = Budget([Limit("messages", 20, 60.0)], clock, max_wait=10)
    for _ in range(18):
        await budget.spend({"messages": 1}, key="group")
    await budget.spend({"messages": 1}, key="another group")  # keys are separate windows
    clock.advance(55)
    waiting = asyncio.ensure_future(budget.spend({"messages": 1}, key="group"))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert clock.sleepers == 1
    clock.advance(5)
    await waiting
    assert budget.waited == pytest.approx(5)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("link_code_minutes", 0),
        ("link_code_minutes", 24 * 60 + 1),  # a code lives minutes, not days
        ("link_code_minutes", float("nan")),
        ("requests_per_sender", 0),
        ("requests_window_minutes", float("inf")),
    ],
)
def test_link_code_life_and_the_sender_budget_are_checked(key: str, value: float) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(trust={key: value})
    assert key in str(info.value)
