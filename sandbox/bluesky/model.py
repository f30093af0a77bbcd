"""The Bluesky sandbox's records (accounts, repository records, rate buckets, the stream) and the
small helpers every layer shares: record kinds, CIDs, TIDs, query parsing, XRPC errors."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import libipld
import regex

from sandbox._server import HttpError

Clock = Callable[[], datetime]


JSON = dict[str, Any]


POST = "app.bsky.feed.post"


REPOST = "app.bsky.feed.repost"


LIKE = "app.bsky.feed.like"


FOLLOW = "app.bsky.graph.follow"


THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"


THREAD_NOT_FOUND = "app.bsky.feed.defs#notFoundPost"


LIST = "app.bsky.graph.list"


LIST_ITEM = "app.bsky.graph.listitem"


_STRONG_REF_COLLECTIONS = (REPOST, LIKE)


_COLLECTIONS = (POST, REPOST, LIKE, FOLLOW, LIST, LIST_ITEM)


JETSTREAM_NSID = "network.bsky.jetstream.subscribeEvents"


SUBPROTOCOL = "xrpc.v1.json"


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


_GRAPHEME = regex.compile(r"\X")


_TIMESTAMP_CURSOR = 10**15


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _micros(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cid_of(value: Any) -> str:
    """A CIDv1 (dag-cbor, sha-256) of ``value``'s JSON: the shape real record CIDs have."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).digest()
    return str(libipld.encode_cid(bytes([0x01, 0x71, 0x12, 0x20]) + digest))


def _error(status: int, name: str, message: str) -> HttpError:
    return HttpError(status, {"error": name, "message": message})


@dataclass
class Account:
    did: str
    handle: str
    display_name: str
    description: str
    password: str
    created_at: datetime
    labels: list[str] = field(default_factory=list)
    repo: dict[str, dict[str, Record]] = field(default_factory=dict)  # collection -> rkey -> record


@dataclass
class Record:
    uri: str
    cid: str
    value: JSON
    indexed_at: datetime


@dataclass
class Bucket:
    window_start: float
    used: int = 0


@dataclass
class Stream:
    """Jetstream's log: every event ever emitted, in sequence order."""

    events: list[tuple[int, int, str | bytes]] = field(default_factory=list)  # (seq, time µs, frame)
    floor: int = 0  # cursors below this seq are too old (CursorTooOld)
    drop_after: list[int] = field(default_factory=list)  # per next connection: frames, then drop
    too_slow_after: list[int] = field(default_factory=list)  # frames, then ConsumerTooSlow
    connections: int = 0


def _tid_of(micros: int) -> str:
    """A record key in atproto's TID form: microseconds and a clock id, base32-sortable."""
    value = (micros << 10) | 7
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _validate_post(value: JSON) -> None:
    text = value.get("text")
    if not isinstance(text, str):
        raise _error(400, "InvalidRecord", "Record/text must be a string")
    if len(text.encode()) > 3000 or len(_GRAPHEME.findall(text)) > 300:
        raise _error(400, "InvalidRecord", "Record/text must not be longer than 300 graphemes")
    size = len(text.encode())
    for facet in value.get("facets") or []:
        index = facet.get("index", {}) if isinstance(facet, dict) else {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= size:
            raise _error(400, "InvalidRecord", "Record/facets/index must fit the text")
    if _when(value.get("createdAt")) is None:
        raise _error(400, "InvalidRecord", "Record/createdAt must be a valid datetime")


def _split_uri(uri: str) -> tuple[str, str, str]:
    if not uri.startswith("at://"):
        raise ValueError(uri)
    did, collection, rkey = uri[5:].split("/")
    return did, collection, rkey


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _tags_of(value: JSON) -> set[str]:
    tags = {_fold(t) for t in value.get("tags") or [] if isinstance(t, str)}
    for facet in value.get("facets") or []:
        for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
            if isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#tag":
                tags.add(_fold(str(feature.get("tag") or "")))
    return tags


def _mentions_of(value: JSON) -> set[str]:
    out = set()
    for facet in value.get("facets") or []:
        for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
            if isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#mention":
                out.add(str(feature.get("did")))
    return out


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _limit(value: str | None, default: int, most: int) -> int:
    n = _int(value)
    if n is None:
        return default
    if not 1 <= n <= most:
        raise _error(400, "InvalidRequest", f"limit must be between 1 and {most}")
    return n


def _bounded(value: str | None, name: str, default: int, most: int = 1000) -> int:
    """An integer parameter between 0 and ``most`` (getPostThread's depth and parentHeight)."""
    if value is None:
        return default
    n = _int(value)
    if n is None or not 0 <= n <= most:
        raise _error(400, "InvalidRequest", f"{name} must be an integer between 0 and {most}")
    return n


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _wanted(frame: str | bytes, collections: set[str], kinds: set[str]) -> bool:
    """Jetstream's filters, applied to well-formed commit frames (raw test frames always pass)."""
    if not isinstance(frame, str) or not (collections or kinds):
        return True
    try:
        payload = json.loads(frame).get("payload") or {}
    except (ValueError, AttributeError):
        return True
    kind = str(payload.get("$type", "")).rpartition("#")[2]
    if kinds and kind not in kinds:
        return False
    return not (kind == "commit" and collections and payload.get("collection") not in collections)
