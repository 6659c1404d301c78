"""Telegram's HTML parse mode: validation, plain-text extraction and entity computation.

Mirrors the behaviour of Telegram's server-side parser closely enough that text which passes
here passes on Telegram: only the documented tags, only the four named entities plus numeric
ones, strict nesting. Offsets and lengths of entities are in UTF-16 code units, as Telegram
reports them (PTB's ``Message.parse_entity`` relies on that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
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
    "tg-spoiler": "spoiler",
}
_ALLOWED_TAGS = {*_SIMPLE_TAGS, "a", "code", "pre", "blockquote", "span", "tg-emoji"}
_TAG_NAME_RE = re.compile(r"[A-Za-z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")


class HtmlParseError(ValueError):
    """Raised for text Telegram would reject with "can't parse entities"."""

    def __init__(self, reason: str, byte_offset: int) -> None:
        super().__init__(f"{reason} at byte offset {byte_offset}")
        self.reason = reason
        self.byte_offset = byte_offset


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the plain text
    byte_offset: int  # position of "<" in the source, for error messages
    language: str | None = None
    children: list[str] = field(default_factory=list)


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0
        self.out: list[str] = []
        self.out_len = 0  # UTF-16 length of the plain text so far
        self.stack: list[_OpenTag] = []
        self.entities: list[JsonDict] = []

    def byte_offset(self, pos: int) -> int:
        return len(self.src[:pos].encode("utf-8"))

    def fail(self, reason: str, pos: int) -> HtmlParseError:
        return HtmlParseError(reason, self.byte_offset(pos))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.out_len += utf16_len(text)

    def decode_entity(self, pos: int) -> tuple[str, int]:
        """Decode the entity starting with "&" at ``pos``; returns (char, new position)."""
        src = self.src
        end = src.find(";", pos + 1, pos + 12)
        if end == -1:
            raise self.fail('Character "&" must be escaped as "&amp;"', pos)
        body = src[pos + 1 : end]
        if body in _NAMED_ENTITIES:
            return _NAMED_ENTITIES[body], end + 1
        code: int | None = None
        if re.fullmatch(r"#[0-9]{1,7}", body):
            code = int(body[1:])
        elif re.fullmatch(r"#[xX][0-9A-Fa-f]{1,6}", body):
            code = int(body[2:], 16)
        if code is None:
            raise self.fail(f'Unsupported HTML entity "&{body};"', pos)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.fail(f'Invalid character code in "&{body};"', pos)
        return chr(code), end + 1

    def parse(self) -> tuple[str, list[JsonDict]]:
        src = self.src
        n = len(src)
        while self.pos < n:
            c = src[self.pos]
            if c == "&":
                ch, self.pos = self.decode_entity(self.pos)
                self.emit(ch)
            elif c == "<":
                if self.pos + 1 < n and src[self.pos + 1] == "/":
                    self.end_tag()
                else:
                    self.start_tag()
            else:
                # Copy the run of ordinary characters in one go.
                nxt = n
                for stop in ("<", "&"):
                    found = src.find(stop, self.pos)
                    if found != -1:
                        nxt = min(nxt, found)
                self.emit(src[self.pos : nxt])
                self.pos = nxt
        if self.stack:
            top = self.stack[-1]
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{top.name}"', top.byte_offset
            )
        # Telegram lists entities by offset, outer (longer) ones first.
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def start_tag(self) -> None:
        src = self.src
        lt = self.pos
        m = _TAG_NAME_RE.match(src, lt + 1)
        assert m is not None
        name = m.group(0).lower()
        if not name:
            raise self.fail('Unexpected "<"; use "&lt;" to write it as text', lt)
        if name not in _ALLOWED_TAGS:
            raise self.fail(f'Unsupported start tag "{name}"', lt)
        pos = m.end()
        attrs: dict[str, str] = {}
        while True:
            while pos < len(src) and src[pos].isspace():
                pos += 1
            if pos >= len(src):
                raise self.fail(f'Unclosed start tag "{name}"', lt)
            if src[pos] == ">":
                pos += 1
                break
            am = _ATTR_NAME_RE.match(src, pos)
            if am is None:
                raise self.fail(
                    f'Expected equal sign in declaration of an attribute of "{name}"', pos
                )
            attr = am.group(0).lower()
            pos = am.end()
            value = ""
            if pos < len(src) and src[pos] == "=":
                pos += 1
                value, pos = self.attr_value(pos, name)
            attrs[attr] = value
        self.pos = pos
        tag = _OpenTag(name, attrs, self.out_len, self.byte_offset(lt))
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', lt)
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise self.fail('Tag "tg-emoji" must have attribute "emoji-id"', lt)
        if self.stack:
            self.stack[-1].children.append(name)
        self.stack.append(tag)

    def attr_value(self, pos: int, tag: str) -> tuple[str, int]:
        src = self.src
        if pos >= len(src):
            raise self.fail(f'Unclosed start tag "{tag}"', pos)
        quote = src[pos]
        chars: list[str] = []
        if quote in "'\"":
            pos += 1
            while True:
                if pos >= len(src):
                    raise self.fail(f'Unclosed start tag "{tag}"', pos)
                c = src[pos]
                if c == quote:
                    return "".join(chars), pos + 1
                if c == "&":
                    ch, pos = self.decode_entity(pos)
                    chars.append(ch)
                else:
                    chars.append(c)
                    pos += 1
        while pos < len(src) and not src[pos].isspace() and src[pos] not in "<>\"'":
            if src[pos] == "&":
                ch, pos = self.decode_entity(pos)
                chars.append(ch)
            else:
                chars.append(src[pos])
                pos += 1
        return "".join(chars), pos

    def end_tag(self) -> None:
        src = self.src
        lt = self.pos
        m = _TAG_NAME_RE.match(src, lt + 2)
        assert m is not None
        name = m.group(0).lower()
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
        if pos >= len(src) or src[pos] != ">":
            raise self.fail(f'Unclosed end tag "{name}"', lt)
        if not self.stack:
            raise self.fail(f'Unexpected end tag "{name}"', lt)
        top = self.stack[-1]
        if top.name != name:
            raise self.fail(f'Unmatched end tag, expected "</{top.name}>", found "</{name}>"', lt)
        self.stack.pop()
        self.pos = pos + 1
        self.close(top)

    def close(self, tag: _OpenTag) -> None:
        length = self.out_len - tag.start
        parent = self.stack[-1] if self.stack else None
        if tag.name == "code" and parent is not None and parent.name == "pre":
            # <pre><code class="language-x"> is Telegram's way to give a pre block a language;
            # the code tag itself produces no separate entity.
            cls = tag.attrs.get("class", "")
            if cls.startswith("language-") and len(cls) > len("language-"):
                parent.language = cls[len("language-") :]
            return
        if length == 0:
            return  # Telegram drops empty entities
        entity: JsonDict = {"offset": tag.start, "length": length}
        if tag.name in _SIMPLE_TAGS:
            entity["type"] = _SIMPLE_TAGS[tag.name]
        elif tag.name == "span":
            entity["type"] = "spoiler"
        elif tag.name == "code":
            entity["type"] = "code"
        elif tag.name == "pre":
            entity["type"] = "pre"
            if tag.language:
                entity["language"] = tag.language
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if "expandable" in tag.attrs else "blockquote"
        elif tag.name == "tg-emoji":
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        elif tag.name == "a":
            href = tag.attrs.get("href", "")
            if not href:
                return  # a link without a target is shown as plain text
            user_match = re.fullmatch(r"tg://user\?id=(\d+)", href)
            if user_match:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(user_match.group(1)), "is_bot": False, "first_name": ""}
            else:
                entity["type"] = "text_link"
                entity["url"] = href
        self.entities.append(entity)


def parse_html(src: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram HTML into (plain text, entities); raises HtmlParseError."""
    return _Parser(src).parse()


def escape(text: str) -> str:
    """Escape plain text for HTML parse mode (handy in tests)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_COMMAND_RE = re.compile(r"(?:(?<=\s)|^)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}(?!\w)")
_HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
_URL_RE = re.compile(r"https?://[^\s<>\"]+")


def auto_entities(text: str) -> list[JsonDict]:
    """Entities Telegram detects by itself in a user's plain text message.

    bot_command, mention, hashtag and url; enough for PTB's CommandHandler and filters.
    """
    found: list[JsonDict] = []
    for kind, regex in (
        ("bot_command", _COMMAND_RE),
        ("mention", _MENTION_RE),
        ("hashtag", _HASHTAG_RE),
        ("url", _URL_RE),
    ):
        for m in regex.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: m.start()]),
                    "length": utf16_len(m.group(0)),
                }
            )
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    # Drop entities overlapping an earlier one (e.g. a hashtag inside a URL).
    result: list[JsonDict] = []
    end = 0
    for entity in found:
        if entity["offset"] >= end:
            result.append(entity)
            end = entity["offset"] + entity["length"]
    return result
