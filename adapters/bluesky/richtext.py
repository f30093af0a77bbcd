"""Posts as Bluesky wants them: text plus facets at UTF-8 byte offsets, and threads that fit.

A Bluesky post is at most 300 graphemes. Hashtags, links and mentions are not found in the
text by the reader's app: the writer declares them as facets, each over a byte range of the
UTF-8 text. Long links are shown shortened (as Bluesky's own app does) while the facet keeps
the whole address. Pure functions; resolving mentioned handles to DIDs is the adapter's job.

Because the writer declares every facet, this is also where member text is kept inert on
Bluesky (``bot.inert`` says why): the text stays as written, and a facet is made only for what
the account intends — a web link written with http(s)://, a hashtag of the community's own, a
mention of a handle the caller resolved on purpose. "@victim.test", "#SpamTag", "$SPAM" and a
bare "evil.com" in a member's words stay plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atproto_client.utils import facet_detection

from adapters.bluesky.normalize import LINK, MENTION, TAG
from bot.domain import TextLimits, normalize_tag
from bot.text import URL, length, split_thread

LIMITS = TextLimits(max_length=300, counting="graphemes")
LINK_DISPLAY = 40  # links longer than this are shown as "host/path…"


@dataclass(frozen=True, slots=True)
class RichText:
    text: str  # what the reader sees (long links shortened)
    facets: tuple[dict[str, Any], ...]  # app.bsky.richtext.facet objects, by byte_start


def _byte(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def short_link(url: str) -> str:
    """How a long link is shown: without the scheme, cut to LINK_DISPLAY characters."""
    bare = url.split("://", 1)[-1]
    bare = bare.removeprefix("www.")
    return bare if len(bare) <= LINK_DISPLAY else bare[: LINK_DISPLAY - 1] + "…"


def _shorten(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """The display text and, for each shortened link, its (start, end) there and its address."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    at = 0
    size = 0
    for m in URL.finditer(text):
        url = m.group(0)
        if len(url) <= LINK_DISPLAY:
            continue
        out.append(text[at : m.start()])
        size += m.start() - at
        shown = short_link(url)
        spans.append((size, size + len(shown), url))
        out.append(shown)
        size += len(shown)
        at = m.end()
    out.append(text[at:])
    return "".join(out), spans


def mentioned_handles(text: str) -> list[str]:
    """Handles written as ``@name.example`` in ``text``, lower-cased, in order, once each."""
    return list(dict.fromkeys(m.handle.lower() for m in facet_detection.detect_mentions(text)))


def _facet(start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": "app.bsky.richtext.facet",
        "index": {"byteStart": start, "byteEnd": end},
        "features": [feature],
    }


def _intended(display: bytes, start: int, end: int, feature: Any, keep_tags: frozenset[str]) -> bool:
    """Whether a facet the detector found is one the account means: a link written out with
    its scheme, or a hashtag of the community's (never a cashtag, never someone else's tag)."""
    kind = getattr(feature, "py_type", "")
    if kind == LINK:
        written = display[start:end].decode("utf-8", "replace").lower()
        return written.startswith(("http://", "https://"))
    if kind == TAG:
        tag = str(getattr(feature, "tag", ""))
        return not tag.startswith("$") and normalize_tag(tag) in keep_tags
    return False


def build(
    text: str, dids: Mapping[str, str] | None = None, *, keep_tags: frozenset[str] = frozenset()
) -> RichText:
    """``text`` with its facets: links written with http(s):// (long ones shortened), hashtags in
    ``keep_tags`` (normalised) and mentions of the handles in ``dids`` (handle -> DID); every
    other handle, tag or bare domain stays plain text."""
    display, shortened = _shorten(text)
    ranges = [(_byte(display, s), _byte(display, e), url) for s, e, url in shortened]
    facets = [_facet(s, e, {"$type": LINK, "uri": url}) for s, e, url in ranges]
    encoded = display.encode("utf-8")
    for found in facet_detection.detect_facets(display):
        start, end = found.index.byte_start, found.index.byte_end
        if any(start < e and s < end for s, e, _ in ranges):
            continue  # the detector saw part of a shortened link; ours carries the address
        facets.extend(
            _facet(start, end, feature.model_dump(by_alias=True, exclude_none=True))
            for feature in found.features
            if _intended(encoded, start, end, feature, keep_tags)
        )
    known = {k.lower(): v for k, v in (dids or {}).items()}
    for m in facet_detection.detect_mentions(display):
        did = known.get(m.handle.lower())
        if did is not None:
            facets.append(_facet(m.byte_start, m.byte_end, {"$type": MENTION, "did": did}))
    facets.sort(key=lambda f: (f["index"]["byteStart"], f["index"]["byteEnd"]))
    return RichText(display, tuple(facets))


def fits(text: str) -> bool:
    """Whether ``text`` makes one post once its long links are shortened."""
    return length(_shorten(text)[0], LIMITS) <= LIMITS.max_length


def thread(text: str, *, number: bool = True) -> list[str]:
    """``text`` as one post or a reply thread of posts of at most 300 graphemes each, split
    between words (never inside a word, link or hashtag), numbered " 1/3" when split."""
    return split_thread(text, LIMITS, number=number)
