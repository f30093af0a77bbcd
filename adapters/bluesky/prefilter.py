"""Deciding cheaply whether a stream event can concern us, before decoding it.

Almost every event on a Bluesky stream is someone else's conversation. Decoding each one into
the SDK's typed models costs far more than asking of the raw frame: does any spelling of our
hashtags, or the central account's DID, appear in it at all? (A reply to one of the account's
posts carries the DID in its ``reply`` URIs, so it says yes too.) Only frames that say yes are
decoded and matched exactly (``replies_to`` for replies); the others give up just their
sequence number, so the cursor still moves past them.

The question is asked so that the answer can only err towards "yes": hashtags compare after
NFKC and case folding, so the frame is folded the same way: ASCII lower-casing alone when no
character of the frame folds into ASCII (checked on its non-ASCII bytes only), full NFKC and
case folding otherwise; and a frame with ``\\u`` escapes is always decoded.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.bluesky.normalize import POST, parse_when
from bot.domain import normalize_tag
from bot.errors import MalformedPayload

_ASCII = bytes(range(128))
_NOT_ASCII_ALNUM = bytes(b for b in range(256) if not (b < 128 and chr(b).isalnum()))
_SEQ_KEY = b'"seq":'
_TIME_KEY = b'"time":'
_RECORD_KEY = b'"record":'
_STRING = re.compile(rb'\s*"([^"\\]*)"')
TIMESTAMP_CURSOR = 10**15  # Jetstream reads a cursor this large as unix microseconds


class Prefilter:
    """``may_match(frame)`` is True for every frame that mentions a needle (and a few more).

    Frames are looked at as UTF-8 bytes: that is how they come off a compressed stream, and
    searching bytes is cheaper than searching text that holds emoji.
    """

    def __init__(self, tags: Iterable[str], dids: Iterable[str] = ()) -> None:
        # A DID is looked for by its last part: "did:plc:" recurs in every frame (authors, reply
        # URIs) and would make the search stumble on near-misses.
        ids = [d.casefold().rpartition(":")[2] or d.casefold() for d in dids]
        needles = [normalize_tag(t) for t in tags] + ids
        self.needles = tuple(dict.fromkeys(n for n in needles if n))
        self._ascii = tuple(n.encode() for n in self.needles if n.isascii())
        self._wide = any(not n.isascii() for n in self.needles)

    def may_match(self, frame: bytes) -> bool:
        if b"\\" in frame and b"\\u" in frame:
            return True  # escaped characters could spell anything: decode and look properly
        if not frame.isascii() and (self._wide or _folds_into_ascii(frame)):
            folded = unicodedata.normalize("NFKC", frame.decode("utf-8", "replace")).casefold()
            return any(n in folded for n in self.needles)
        low = frame.lower()  # ASCII letters only, which is all a needle can need here
        return any(n in low for n in self._ascii)

    def may_match_text(self, frame: str) -> bool:
        return self.may_match(frame.encode("utf-8", "surrogatepass"))


def replies_to(did: str | None, *uris: str | None) -> bool:
    """Whether any of ``uris`` (a reply's parent and root) is a record in ``did``'s repository:
    the exact match after the prefilter's "maybe". The whole DID and the slash after it must
    match, so ``did:plc:abc`` is never taken for ``did:plc:abcd``."""
    if not did:
        return False
    prefix = f"at://{did}/"
    return any(u is not None and u.startswith(prefix) for u in uris)


def _folds_into_ascii(data: bytes) -> bool:
    """Whether any non-ASCII character of ``data`` (UTF-8) turns into an ASCII letter or digit
    under NFKC and case folding (full-width letters, ß, ligatures, 🆗…): then lower-casing the
    ASCII bytes alone would not find every spelling. Only the non-ASCII bytes are looked at."""
    rest = data.translate(None, _ASCII).decode("utf-8", "replace")
    folded = unicodedata.normalize("NFKC", rest).casefold()
    return bool(folded.encode("utf-8", "surrogatepass").translate(None, _NOT_ASCII_ALNUM))


def quick_int(frame: bytes, key: bytes = _SEQ_KEY) -> int | None:
    """The number after ``key`` when the key occurs exactly once, else None (decode to be sure).

    A JSON string cannot hold an unescaped quote, so ``"seq":`` only ever matches a key; a record
    that has a ``seq`` key of its own makes two matches and the frame is decoded instead.
    """
    at = frame.find(key)
    if at < 0:
        return None
    start = at + len(key)
    if frame.find(key, start) >= 0:
        return None
    return _number_at(frame, start)


def _number_at(frame: bytes, start: int) -> int | None:
    end = frame.find(b",", start)
    try:
        return int(frame[start : end if end >= 0 else len(frame)].rstrip(b"} \t\r\n"))
    except ValueError:
        return None


def quick_str(frame: bytes, key: bytes) -> str | None:
    at = frame.find(key)
    if at < 0 or frame.find(key, at + len(key)) >= 0:
        return None
    m = _STRING.match(frame, at + len(key))
    return m.group(1).decode("utf-8", "replace") if m else None


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
    raw: bytes | None = None
    posts: tuple[NewPost, ...] = ()
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
    """Jetstream v2 (``xrpc.v1.json``) frames, as UTF-8 bytes, into StreamEvents, prefilter first."""

    def __init__(self, prefilter: Prefilter) -> None:
        self.prefilter = prefilter

    def decode(self, frame: bytes) -> StreamEvent | Notice:
        # A commit's envelope keys are plain strings and numbers, so the first ``"record":`` is
        # the record's own key: only what follows it can hold a hashtag or a mention, and a
        # ``"seq":`` before it is the envelope's (a record may carry a "seq" of its own).
        record = frame.find(_RECORD_KEY)
        if not self.prefilter.may_match(frame[record:] if record > 0 else frame):
            at = frame.find(_SEQ_KEY)
            found = _number_at(frame, at + len(_SEQ_KEY)) if 0 <= at < record else quick_int(frame)
            if found is not None:
                return StreamEvent(found, raw=frame)
        return self.decode_fully(frame)

    def decode_fully(self, frame: bytes) -> StreamEvent | Notice:
        try:
            # Invalid UTF-8 inside a string value becomes U+FFFD: the post is kept, not the bytes.
            data = json.loads(frame.decode("utf-8", "replace"))
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
