"""The per-sender budget a front-end keeps for what it answers on its own: the limit per window,
a fresh window later, and memory that stays bounded whatever a flood of senders does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.trust.sender_budget import SenderBudget

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_sender_gets_the_limit_per_window_then_again() -> None:
    budget = SenderBudget(3, timedelta(minutes=60))
    assert [budget.allow("sam", NOW + timedelta(seconds=i)) for i in range(5)] == [True] * 3 + [False] * 2
    assert budget.allow("rosa", NOW)  # others are not held by sam
    assert budget.allow("sam", NOW + timedelta(minutes=61))


@settings(max_examples=50, deadline=None)
@given(senders=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=400))
def test_memory_is_bounded_by_the_number_of_senders_remembered(senders: list[str]) -> None:
    budget = SenderBudget(2, timedelta(minutes=60), senders=16)
    for i, sender in enumerate(senders):
        budget.allow(sender, NOW + timedelta(seconds=i))
        assert len(budget) <= 16
