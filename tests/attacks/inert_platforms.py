"""Fixtures for the inert tests, re-exported from the series tests (three platforms, each through
its real library against its sandbox, and a SeriesRunner over them). A test module takes them with
``from tests.attacks.inert_platforms import *``, which is how pytest finds imported fixtures."""

from __future__ import annotations

from tests.bot.series.conftest import sandbox
from tests.bot.series.test_all_platforms import bsky, everywhere, runner, tg

__all__ = ["bsky", "everywhere", "runner", "sandbox", "tg"]
