"""Deciding cheaply whether a stream event can concern us, before decoding it.

Almost every event on a Bluesky stream is someone else's conversation. Decoding each one into
the SDK's typed models costs far more than asking of the raw frame: does any spelling of our
hashtags, or the central account's DID, appear in it at all? Only frames that say yes are
decoded and matched exactly; the others give up just their sequence number, so the cursor
still moves past them.

The question is asked so that the answer can only err towards "yes": hashtags compare after
NFKC and case folding, so the frame is folded the same way (the cheap ASCII path when the frame
is ASCII, NFKC plus ASCII lower-casing otherwise, full case folding only when a character whose
folding yields ASCII is present), and a frame with ``\\u`` escapes is always decoded.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.bluesky.normalize import POST, parse_when
from bot.domain import normalize_tag
from bot.errors import MalformedPayload

# Characters left alone by NFKC whose case folding contains ASCII (ß -> ss, İ -> i̇ …).
_FOLDS_TO_ASCII = "ßİǰẖẗẘẙẞ"
_SEQ_KEY = '"seq":'
_TIME_KEY = '"time":'
_NUMBER = re.compile(r"\s*(\d+)")
_STRING = re.compile(r'\s*"([^"\\]*)"')
TIMESTAMP_CURSOR = 10**15  # Jetstream reads a cursor this large as unix microseconds


class Prefilter:
    """``may_match(frame)`` is True for every frame that mentions a needle (and a few more)."""

    def __init__(self, tags: Iterable[str], dids: Iterable[str] = ()) -> None:
        needles = [normalize_tag(t) for t in tags] + [d.casefold() for d in dids]
        self.needles = tuple(dict.fromkeys(n for n in needles if n))
        self._ascii = tuple(n for n in self.needles if n.isascii())
        self._ascii_bytes = tuple(n.encode() for n in self._ascii)
        self._wide = any(not n.isascii() for n in self.needles)

    def may_match(self, frame: str) -> bool:
        if "\\u" in frame:
            return True  # escaped characters could spell anything: decode and look properly
        if frame.isascii():
            low = frame.lower()
            return any(n in low for n in self._ascii)
        folded = unicodedata.normalize("NFKC", frame)
        if self._wide or any(c in folded for c in _FOLDS_TO_ASCII):
            folded = folded.casefold()
            return any(n in folded for n in self.needles)
        low_bytes = folded.encode("utf-8", "surrogatepass").lower()
        return any(n in low_bytes for n in self._ascii_bytes)

    def may_match_bytes(self, data: bytes) -> bool:
        """The same question of raw bytes (a firehose commit's CAR blocks)."""
        if data.isascii():
            low = data.lower()
            return any(n in low for n in self._ascii_bytes)
        return self.may_match(data.decode("utf-8", "replace"))


def quick_int(frame: str, key: str = _SEQ_KEY) -> int | None:
    """The number after ``key`` when the key occurs exactly once, else None (decode to be sure).

    A JSON string cannot hold an unescaped quote, so ``"seq":`` only ever matches a key; a record
    that has a ``seq`` key of its own makes two matches and the frame is decoded instead.
    """
    at = frame.find(key)
    if at < 0 or frame.find(key, at + len(key)) >= 0:
        return None
    m = _NUMBER.match(frame, at + len(key))
    return int(m.group(1)) if m else None


def quick_str(frame: str, key: str) -> str | None:
    at = frame.find(key)
    if at < 0 or frame.find(key, at + len(key)) >= 0:
        return None
    m = _STRING.match(frame, at + len(key))
    return m.group(1) if m else None


class FrameError(ValueError):
    """A frame that is not a Jetstream message we can read; skipped (logged by the caller)."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason)
        self.seq = seq


class StreamRefused(Exception):
    """The server ended the subscription with an error frame (``ConsumerTooSlow``…)."""

    def __init__(self, name: str, message: str | None) -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.message = message


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post record created on the stream."""

    did: str
    rkey: str
    cid: str | None
    record: Any

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{POST}/{self.rkey}"


@dataclass(slots=True)
class StreamEvent:
    """One event past which the cursor may move; ``posts`` holds the ones worth a closer look."""

    seq: int
    when: str | None = None  # the event's time as sent; read lazily from ``raw`` when absent
    raw: str | None = None
    posts: tuple[NewPost, ...] = field(default_factory=tuple)
    malformed: int = 0  # frames skipped as unreadable (counted in the batch)

    def time(self) -> datetime | None:
        text = self.when
        if text is None and self.raw is not None:
            text = quick_str(self.raw, _TIME_KEY)
        if not text:
            return None
        try:
            return parse_when(text, "time")
        except MalformedPayload:
            return None


@dataclass(frozen=True, slots=True)
class Notice:
    """An advisory from the server (``#info``): no sequence number, the cursor stays."""

    name: str
    message: str | None


class JetstreamDecoder:
    """Jetstream v2 (``xrpc.v1.json``) text frames into StreamEvents, prefilter first."""

    def __init__(self, prefilter: Prefilter) -> None:
        self.prefilter = prefilter

    def decode(self, frame: str) -> StreamEvent | Notice:
        if not self.prefilter.may_match(frame):
            seq = quick_int(frame)
            if seq is not None:
                return StreamEvent(seq, raw=frame)
        return self.decode_fully(frame)

    def decode_fully(self, frame: str) -> StreamEvent | Notice:
        try:
            data = json.loads(frame)
        except ValueError:
            raise FrameError("not JSON", quick_int(frame)) from None
        if not isinstance(data, dict):
            raise FrameError("not an object")
        kind = data.get("$type")
        if kind == "error":
            raise StreamRefused(str(data.get("error") or "error"), _opt_str(data.get("message")))
        payload = data.get("payload")
        if kind != "message" or not isinstance(payload, dict):
            raise FrameError(f"unknown frame type {str(kind)[:40]!r}")
        ptype = str(payload.get("$type") or "")
        if ptype.endswith("#info"):
            return Notice(str(payload.get("name") or ""), _opt_str(payload.get("message")))
        seq = payload.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise FrameError("seq is missing")
        when = _opt_str(payload.get("time"))
        if not ptype.endswith("#commit") or payload.get("collection") != POST:
            return StreamEvent(seq, when=when)
        if payload.get("operation") != "create":
            return StreamEvent(seq, when=when)
        did, rkey = payload.get("did"), payload.get("rkey")
        if not isinstance(did, str) or not isinstance(rkey, str) or not did or not rkey:
            raise FrameError("did or rkey is missing", seq)
        post = NewPost(did, rkey, _opt_str(payload.get("cid")), payload.get("record"))
        return StreamEvent(seq, when=when, posts=(post,))


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
