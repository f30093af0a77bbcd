"""Chat tests use the series' Mastodon sandbox and real adapter."""

from __future__ import annotations

from tests.bot.series.conftest import sandbox as sandbox
