"""Loopback emulator of the Bluesky XRPC endpoints Coalesce uses, plus a Jetstream v2 stream.

Tests and ``python -m bot demo`` point the real atproto SDK at it: ``AsyncClient`` at
:attr:`BlueskySandbox.base_url` and the SDK's Jetstream client at :attr:`BlueskySandbox.ws_url`.
Bodies, error names (``ExpiredToken``, ``RecordNotFound``…) and ``ratelimit-*`` headers follow
the lexicons and what a Bluesky PDS answers; simplifications are listed on the class. The
layers, each on top of the ones before: ``model`` (records and helpers), ``state``, ``render``
(XRPC JSON), ``handlers`` (the XRPC endpoints), ``jetstream`` (the stream), ``emulator`` (the face).
"""

from sandbox._server import Fault
from sandbox.bluesky.emulator import BlueskySandbox, main
from sandbox.bluesky.model import POST, REPOST, cid_of

__all__ = ["POST", "REPOST", "BlueskySandbox", "Fault", "cid_of", "main"]
