"""Loopback emulator of the slice of the Mastodon REST API that Coalesce uses.

Tests and ``python -m bot demo`` point the real Mastodon.py client at it. Entities, paging ``Link``
headers, rate-limit headers and error bodies follow the documentation at docs.joinmastodon.org and
what a Mastodon 4.3 server actually answers; deliberate simplifications are listed on
:class:`MastodonSandbox`. The layers, each on top of the one before: ``model`` (records),
``state`` (what the server knows and the rules that change it), ``render`` (Mastodon's JSON),
``social`` and ``handlers`` (the HTTP endpoints), ``emulator`` (lifecycle and test helpers).
"""

from sandbox._server import Fault
from sandbox.mastodon.emulator import MastodonSandbox, main
from sandbox.mastodon.model import DEFAULT_TOKEN

__all__ = ["DEFAULT_TOKEN", "Fault", "MastodonSandbox", "main"]
