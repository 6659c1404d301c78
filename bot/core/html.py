"""Telegram's HTML as Telegram measures it: lengths in UTF-16 code units with tags removed,
and long text cut or split without breaking a tag or an entity."""

from __future__ import annotations

import re
from html import unescape

TELEGRAM_LIMIT = 4096  # characters of a message's text, counted as Telegram does (UTF-16)


_TOKEN = re.compile(r"(<[^>]*>)")


_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def _units(text: str) -> int:
    """Length in UTF-16 code units: what Telegram's limits count."""
    return len(text.encode("utf-16-le")) // 2


def plain_length(html: str) -> int:
    """How long Telegram finds this HTML once parsed: tags removed, entities as one character."""
    return _units(unescape(_TOKEN.sub("", html)))


def shorten_html(html: str, limit: int) -> str:
    """At most `limit` characters of text (as Telegram counts them), ending with "…" when cut,
    never inside a tag or an entity, with every tag left open closed again."""
    if plain_length(html) <= limit:
        return html
    budget = limit - 1  # the ellipsis
    out: list[str] = []
    open_tags: list[str] = []
    for token in _TOKEN.split(html):
        if not token:
            continue
        if token.startswith("<"):
            name = token[1:].split(">")[0].split()[0].lstrip("/").lower() if len(token) > 2 else ""
            if token.startswith("</"):
                if open_tags and open_tags[-1] == name:
                    open_tags.pop()
            elif not token.endswith("/>"):
                open_tags.append(name)
            out.append(token)
            continue
        # text: keep whole characters and whole entities while the budget lasts
        position = 0
        for match in _ENTITY.finditer(token):
            chunk = token[position : match.start()]
            budget = _take(chunk, budget, out)
            if budget <= 0:
                break
            budget -= 1
            out.append(match.group(0))
            position = match.end()
        else:
            budget = _take(token[position:], budget, out)
        if budget <= 0:
            break
    out.append("…")
    out.extend(f"</{name}>" for name in reversed(open_tags))
    return "".join(out)


def _take(text_: str, budget: int, out: list[str]) -> int:
    kept = []
    for ch in text_:
        size = _units(ch)
        if size > budget:
            budget = 0
            break
        kept.append(ch)
        budget -= size
    out.append("".join(kept))
    return budget


def split_message(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut a long message between lines (rendered lines open and close their own tags), so
    every part keeps its tags balanced; a line too long for one message is shortened the same
    safe way. Lengths are counted as Telegram counts them."""
    if plain_length(html) <= limit:
        return [html]
    parts: list[str] = []
    current = ""
    for line in html.split("\n"):
        line = shorten_html(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if current and plain_length(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return parts
