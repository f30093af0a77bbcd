"""The Bot API's three ``parse_mode`` languages (HTML, MarkdownV2 and legacy Markdown) turned into
text and entities, refusing what Telegram refuses with its error texts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.telegram.entities import EntityParseError, TextBuilder, _byte_offset, _entity
from sandbox.telegram.model import JSON

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


_HTML_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")


@dataclass
class _OpenTag:
    name: str
    start: int
    attrs: dict[str, str]
    language: str | None = None


def _decode_html_entity(source: str, index: int) -> tuple[str, int]:
    """The character an ``&...;`` at ``index`` stands for and how much source it used."""
    m = _HTML_ENTITY.match(source, index)
    if m is None:
        return "&", 1
    decimal, hexa, name = m.groups()
    if name is not None:
        if name in _HTML_NAMED:
            return _HTML_NAMED[name], m.end() - index
        return "&", 1  # other named entities are not supported and stay as typed
    code = int(decimal) if decimal is not None else int(hexa, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "&", 1
    return chr(code), m.end() - index


def _read_html_attributes(source: str, index: int, tag_at: int) -> tuple[dict[str, str], int]:
    """Attributes of a start tag from ``index`` (just after the name) to its ``>``."""
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while index < n and source[index].isspace():
            index += 1
        if index >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_at)}")
        if source[index] == ">":
            return attrs, index + 1
        name_end = index
        while name_end < n and (source[name_end].isalnum() or source[name_end] in "-_"):
            name_end += 1
        if name_end == index:
            raise EntityParseError(
                f"Expected equal sign in declaration of an attribute of the tag at byte offset "
                f"{_byte_offset(source, tag_at)}"
            )
        name = source[index:name_end].lower()
        index = name_end
        while index < n and source[index].isspace():
            index += 1
        if index >= n or source[index] != "=":
            attrs[name] = ""
            continue
        index += 1
        while index < n and source[index].isspace():
            index += 1
        if index < n and source[index] in "\"'":
            quote = source[index]
            close = source.find(quote, index + 1)
            if close < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_at)}")
            raw, index = source[index + 1 : close], close + 1
        else:
            value_end = index
            while value_end < n and not source[value_end].isspace() and source[value_end] != ">":
                value_end += 1
            raw, index = source[index:value_end], value_end
        attrs[name] = _html_unescape(raw)


def _html_unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "&":
            char, used = _decode_html_entity(raw, i)
            out.append(char)
            i += used
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _close_html_tag(tag: _OpenTag, end: int, stack: list[_OpenTag]) -> JSON | None:
    kind = _HTML_TAGS[tag.name]
    if tag.name == "a":
        href = tag.attrs.get("href")
        return _entity("text_link", tag.start, end, url=href) if href else None
    if tag.name == "code" and stack and stack[-1].name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].language = language.removeprefix("language-")
            return None  # <pre><code class="language-x"> is one pre entity with a language
    if tag.name == "pre":
        extra = {"language": tag.language} if tag.language else {}
        return _entity("pre", tag.start, end, **extra)
    if tag.name == "blockquote" and "expandable" in tag.attrs:
        return _entity("expandable_blockquote", tag.start, end)
    if tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id")
        return _entity("custom_emoji", tag.start, end, custom_emoji_id=emoji_id) if emoji_id else None
    return _entity(kind, tag.start, end)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of an HTML ``parse_mode`` text, or :class:`EntityParseError`."""
    out = TextBuilder()
    stack: list[_OpenTag] = []
    entities: list[JSON] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            char, used = _decode_html_entity(source, i)
            out.add(char)
            i += used
            continue
        if ch != "<":
            out.add(ch)
            i += 1
            continue
        if source.startswith("</", i):
            close = source.find(">", i)
            if close < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, i)}")
            name = source[i + 2 : close].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
            tag = stack.pop()
            if name != tag.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {_byte_offset(source, i)}, expected "</{tag.name}>", '
                    f'found "</{name}>"'
                )
            made = _close_html_tag(tag, out.u16, stack)
            if made is not None:
                entities.append(made)
            i = close + 1
            continue
        name_end = i + 1
        while (
            name_end < n
            and source[name_end].isascii()
            and (source[name_end].isalnum() or source[name_end] == "-")
        ):
            name_end += 1
        name = source[i + 1 : name_end].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}')
        attrs, i_after = _read_html_attributes(source, name_end, i)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        stack.append(_OpenTag(name, out.u16, attrs))
        i = i_after
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.text(), entities


_MD_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")


_MD_PAIRED = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


_MD_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "[": "TextUrl",
    "![": "CustomEmoji",
}


def _md_read_code(source: str, i: int, fence: bool) -> tuple[int, str, str | None]:
    """Content of a `code` or ```pre``` span starting at ``i``; returns (index after, text, language)."""
    marker = "```" if fence else "`"
    j = i + len(marker)
    language: str | None = None
    if fence:
        newline = source.find("\n", j)
        first_line = source[j:newline] if newline >= 0 else ""
        if newline >= 0 and first_line and not any(c.isspace() or c in "`\\" for c in first_line):
            language, j = first_line, newline + 1
    out: list[str] = []
    while j < len(source):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in "`\\":
            out.append(source[j + 1])
            j += 2
            continue
        if source.startswith(marker, j):
            return j + len(marker), "".join(out), language
        out.append(source[j])
        j += 1
    name = "Pre" if fence else "Code"
    raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(source, i)}")


def _md_read_url(source: str, i: int) -> tuple[int, str]:
    """The URL inside ``(...)`` starting at ``i`` (the ``(``); ``)`` and ``\\`` may be escaped."""
    out: list[str] = []
    j = i + 1
    while j < len(source):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in ")\\":
            out.append(source[j + 1])
            j += 2
            continue
        if source[j] == ")":
            return j + 1, "".join(out)
        out.append(source[j])
        j += 1
    raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(source, i)}")


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of a MarkdownV2 text, or :class:`EntityParseError`.

    Covers *bold*, _italic_, __underline__, ~strike~, ||spoiler||, `code`, ```pre```, [links](url),
    ![emoji](tg://emoji?id=...) and ``>`` block quotes; every reserved character outside them must
    be escaped with a backslash, as Telegram insists.
    """
    out = TextBuilder()
    stack: list[tuple[str, int, int]] = []  # (marker, start in UTF-16, index in source)
    entities: list[JSON] = []
    quote_start: int | None = None
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) < 127:
            out.add(source[i + 1])
            i += 2
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.u16
            i += 1
            continue
        if ch == "\n" and quote_start is not None and not source.startswith(">", i + 1):
            made = _entity("blockquote", quote_start, out.u16)
            if made is not None:
                entities.append(made)
            quote_start = None
        if ch == "`":
            fence = source.startswith("```", i)
            i, code, language = _md_read_code(source, i, fence)
            start = out.u16
            out.add(code)
            extra = {"language": language} if language else {}
            made = _entity("pre" if fence else "code", start, out.u16, **extra)
            if made is not None:
                entities.append(made)
            continue
        marker = source[i : i + 2] if source[i : i + 2] in ("__", "||") else ch
        if marker in _MD_PAIRED:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                made = _entity(_MD_PAIRED[marker], start, out.u16)
                if made is not None:
                    entities.append(made)
            elif any(open_marker == marker for open_marker, _, _ in stack):
                top, _, top_at = stack[-1]
                name = _MD_NAMES.get(_MD_PAIRED.get(top, top), top)
                raise EntityParseError(
                    f"Can't find end of {name} entity at byte offset {_byte_offset(source, top_at)}"
                )
            else:
                stack.append((marker, out.u16, i))
            i += len(marker)
            continue
        if ch == "[" or (ch == "!" and source.startswith("[", i + 1)):
            marker = "[" if ch == "[" else "!["
            stack.append((marker, out.u16, i))
            i += len(marker)
            continue
        if ch == "]" and stack and stack[-1][0] in ("[", "!["):
            marker, start, _ = stack.pop()
            if not source.startswith("(", i + 1):
                i += 1  # brackets without a URL just keep their text
                continue
            i, url = _md_read_url(source, i + 1)
            if marker == "![":
                emoji_id = url.removeprefix("tg://emoji?id=")
                made = _entity("custom_emoji", start, out.u16, custom_emoji_id=emoji_id)
            else:
                made = _entity("text_link", start, out.u16, url=url)
            if made is not None:
                entities.append(made)
            continue
        if ch in _MD_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(ch)
        i += 1
    if quote_start is not None:
        made = _entity("blockquote", quote_start, out.u16)
        if made is not None:
            entities.append(made)
    if stack:
        marker, _, at = stack[-1]
        name = _MD_NAMES.get(_MD_PAIRED.get(marker, marker), marker)
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(source, at)}")
    return out.text(), entities


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """The legacy ``Markdown`` mode: *bold*, _italic_, `code`, ```pre``` and [links](url), no nesting."""
    out = TextBuilder()
    entities: list[JSON] = []
    i, n = 0, len(source)

    def unterminated(at: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(source, at)}"
        )

    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch in "*_":
            close = source.find(ch, i + 1)
            if close < 0:
                raise unterminated(i)
            start = out.u16
            out.add(source[i + 1 : close])
            made = _entity("bold" if ch == "*" else "italic", start, out.u16)
            i = close + 1
        elif ch == "`":
            marker = "```" if source.startswith("```", i) else "`"
            close = source.find(marker, i + len(marker))
            if close < 0:
                raise unterminated(i)
            start = out.u16
            out.add(source[i + len(marker) : close])
            made = _entity("pre" if marker == "```" else "code", start, out.u16)
            i = close + len(marker)
        elif ch == "[":
            close = source.find("](", i + 1)
            end = source.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise unterminated(i)
            start = out.u16
            out.add(source[i + 1 : close])
            made = _entity("text_link", start, out.u16, url=source[close + 2 : end])
            i = end + 1
        else:
            out.add(ch)
            i += 1
            continue
        if made is not None:
            entities.append(made)
    return out.text(), entities
