"""Fixtures for the Telegram rule tests: the sandbox with the people and chats the adapter tests
use (``tg``, on the injected clock), and a ``rule`` marker naming the rule a test holds."""

from __future__ import annotations

import pytest

from tests.adapters.telegram.conftest import tg

__all__ = ["tg"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rule(name): the documented Telegram rule (sandbox.telegram.rules.RULES)"
    )
