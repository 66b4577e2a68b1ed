"""Telegram's HTML parse mode: text + entities from HTML, and safe HTML back from entities.

Telegram accepts only a few tags (https://core.telegram.org/bots/api#html-style) and answers
400 "Bad Request: can't parse entities: ..." for anything else. The wording of the errors below
follows the server's (tdlib) messages, byte offsets in UTF-8 as Telegram reports them.
Entity offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import html
import re
from typing import Any

# tag -> entity type
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
ALLOWED_TAGS = frozenset({*_SIMPLE_TAGS, "a", "span", "tg-emoji"})

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\xa0"}
_TAG_NAME = re.compile(r"[A-Za-z0-9-]*")
_ATTR = re.compile(r"""\s*([A-Za-z0-9_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; str(error) is Telegram's reason."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """An HTML character reference at text[i] == '&': (character, index after it) or None."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        return None
    name = text[i + 1 : end]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1
    try:
        if name.startswith(("#x", "#X")):
            return chr(int(name[2:], 16)), end + 1
        if name.startswith("#"):
            return chr(int(name[1:])), end + 1
    except (ValueError, OverflowError):
        return None
    return None


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:  # noqa: C901 - a tokenizer: one loop over characters
    """Telegram HTML -> (plain text, entities as Bot API dicts). Raises EntityParseError."""
    out: list[str] = []
    out_len = 0  # UTF-16 length of the text produced so far
    stack: list[dict[str, Any]] = []  # open tags: {"tag", "offset", "entity"}
    entities: list[dict[str, Any]] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded = _decode_entity(source, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                out_len += utf16_len(char)
                continue
            out.append(ch)
            out_len += 1
            i += 1
            continue
        if ch != "<":
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
            continue
        begin = i
        if source.startswith("</", i):
            end = source.find(">", i)
            if end == -1:
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            open_tag = stack[-1]["tag"]
            if name != open_tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{open_tag}>", found "</{name}>"'
                )
            opened = stack.pop()
            entity = opened["entity"]
            length = out_len - opened["offset"]
            if entity is not None and length > 0:
                entity["offset"] = opened["offset"]
                entity["length"] = length
                entities.append(entity)
            i = end + 1
            continue
        # a start tag
        name_match = _TAG_NAME.match(source, i + 1)
        assert name_match is not None
        name = name_match.group(0).lower()
        if name not in ALLOWED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        i = name_match.end()
        attrs: dict[str, str] = {}
        while True:
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                )
            if source[i] == ">":
                i += 1
                break
            if source.startswith("/>", i):  # <b/> is an empty element: no entity
                i += 2
                break
            attr = _ATTR.match(source, i)
            if attr is None or attr.end() == i:
                raise EntityParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {_byte_offset(source, begin)}"
                )
            value = attr.group(2) or attr.group(3) or attr.group(4) or ""
            attrs[attr.group(1).lower()] = html.unescape(value)
            i = attr.end()
        if source[i - 2 : i] == "/>":
            continue
        stack.append({"tag": name, "offset": out_len, "entity": _entity_for(name, attrs, stack)})
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity_for(
    name: str, attrs: dict[str, str], stack: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if name == "a":
        href = attrs.get("href", "")
        match = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if match:
            user = {"id": int(match.group(1)), "is_bot": False, "first_name": ""}
            return {"type": "text_mention", "user": user}
        return {"type": "text_link", "url": href} if href else None
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        return {"type": "spoiler"}
    if name == "tg-emoji":
        emoji_id = attrs.get("emoji-id")
        if not emoji_id:
            raise EntityParseError('Custom emoji entity must contain a "emoji-id" attribute')
        return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
    if name == "code" and stack and stack[-1]["tag"] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language
        language = attrs.get("class", "")
        if language.startswith("language-") and stack[-1]["entity"] is not None:
            stack[-1]["entity"]["language"] = language.removeprefix("language-")
        return None
    if name == "blockquote" and "expandable" in attrs:
        return {"type": "expandable_blockquote"}
    return {"type": _SIMPLE_TAGS[name]}


_OPEN = {
    "bold": "<b>",
    "italic": "<i>",
    "underline": "<u>",
    "strikethrough": "<s>",
    "code": "<code>",
    "pre": "<pre>",
    "spoiler": '<span class="spoiler">',
    "blockquote": "<blockquote>",
    "expandable_blockquote": "<blockquote>",
    "bot_command": '<span class="command">',
    "url": '<span class="link">',
}
_CLOSE = {
    "bold": "</b>",
    "italic": "</i>",
    "underline": "</u>",
    "strikethrough": "</s>",
    "code": "</code>",
    "pre": "</pre>",
    "spoiler": "</span>",
    "blockquote": "</blockquote>",
    "expandable_blockquote": "</blockquote>",
    "bot_command": "</span>",
    "url": "</span>",
}
_SAFE_URL = re.compile(r"^(https?|tg|mailto):", re.IGNORECASE)


def _open_tag(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity.get("type", "")
    if kind == "text_link":
        url = str(entity.get("url", ""))
        if _SAFE_URL.match(url):
            return (
                f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">',
                "</a>",
            )
        return "<span>", "</span>"
    if kind in _OPEN:
        return _OPEN[kind], _CLOSE[kind]
    return "<span>", "</span>"


def render_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Plain text + entities -> HTML safe to insert into the web chat (everything escaped)."""
    units = text.encode("utf-16-le")
    boundaries: dict[int, list[tuple[int, str]]] = {}
    for index, entity in enumerate(entities or []):
        start, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        if length <= 0:
            continue
        opening, closing = _open_tag(entity)
        # opening tags: longer entities first; closing tags: reverse order
        boundaries.setdefault(start, []).append((-(length * 1000) + index, opening))
        boundaries.setdefault(start + length, []).insert(0, (-(10**12), closing))
    positions = sorted(set(boundaries) | {0, len(units) // 2})
    parts: list[str] = []
    previous = 0
    for position in positions:
        if position > previous:
            chunk = units[previous * 2 : position * 2].decode("utf-16-le", errors="replace")
            parts.append(html.escape(chunk, quote=False))
            previous = position
        tags = boundaries.get(position, [])
        closings = [tag for key, tag in tags if key == -(10**12)]
        openings = [tag for key, tag in sorted(t for t in tags if t[0] != -(10**12))]
        parts.extend(closings)
        parts.extend(openings)
    return "".join(parts).replace("\n", "<br>")


_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_URL = re.compile(r"https?://[^\s<>\"'，。]+")


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram adds to a user's plain message: bot commands and URLs."""
    found: list[dict[str, Any]] = []
    for pattern, kind in ((_COMMAND, "bot_command"), (_URL, "url")):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group(0)),
                }
            )
    found.sort(key=lambda e: e["offset"])
    return found
