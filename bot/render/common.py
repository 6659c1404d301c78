"""Pieces shared by every rendered message: escaping, names, flags, timeline lines."""

from __future__ import annotations

import re
from html import escape, unescape

from bot import labels
from bot.i18n import Translator
from bot.models import (
    Assignment,
    Country,
    IncidentField,
    IncidentStatus,
    PersonRef,
    Severity,
    TimelineEntry,
    TimelineKind,
)

FLAG = {Country.FR: "🇫🇷", Country.BE: "🇧🇪"}
SEVERITY_MARK = {
    None: "⚪",
    Severity.MINOR: "🟢",
    Severity.MODERATE: "🟡",
    Severity.SEVERE: "🟠",
    Severity.EXTREME: "🔴",
}
STATUS_MARK = {
    IncidentStatus.REPORTED: "🆕",
    IncidentStatus.ACTIVE: "🔥",
    IncidentStatus.CONTAINED: "🛡",
    IncidentStatus.CLOSED: "✅",
}


def text(value: str) -> str:
    """Anything a user typed, made safe for Telegram's HTML."""
    return escape(value, quote=False)


def person(tr: Translator, ref: PersonRef | None) -> str:
    return text(ref.name) if ref else tr.gettext("not assigned")


def severity(tr: Translator, value: Severity | None) -> str:
    _ = tr.gettext
    if value is None:
        return SEVERITY_MARK[None] + " " + _("not assessed")
    return f"{SEVERITY_MARK[value]} {tr.gettext(labels.SEVERITY[value])}"


def status(tr: Translator, value: IncidentStatus) -> str:
    return f"{STATUS_MARK[value]} {tr.gettext(labels.STATUS[value])}"


def country(tr: Translator, value: Country) -> str:
    names = {Country.FR: tr.gettext("France"), Country.BE: tr.gettext("Belgium")}
    return f"{FLAG[value]} {names[value]}"


def coordinates(lat: float, lon: float) -> str:
    """A link a phone opens in its map application."""
    return (
        f'<a href="https://www.openstreetmap.org/?mlat={lat:.5f}&amp;mlon={lon:.5f}'
        f'#map=16/{lat:.5f}/{lon:.5f}">{lat:.5f}, {lon:.5f}</a>'
    )


def exercise_banner(tr: Translator) -> str:
    return "🧪 <b>" + tr.gettext("EXERCISE") + "</b>"


def timeline_line(tr: Translator, entry: TimelineEntry, timezone: str) -> str:
    _ = tr.gettext
    who = text(entry.author.name) if entry.author else _("Passerelle")
    what: str
    if entry.kind is TimelineKind.NOTE:
        what = text(entry.text or "")
    elif entry.kind is TimelineKind.DECLARED:
        what = "<i>" + _("declared the incident") + "</i>"
    elif entry.kind is TimelineKind.LOCATION:
        if entry.lat is not None and entry.lon is not None:
            what = "📍 " + coordinates(entry.lat, entry.lon)
        else:
            what = "📍"
    elif entry.kind is TimelineKind.STATUS:
        what = (
            "<i>"
            + _("status → {status}").format(
                status=_(labels.STATUS[IncidentStatus(entry.text or "")])
            )
            + "</i>"
        )
    elif entry.kind is TimelineKind.SEVERITY:
        what = (
            "<i>"
            + _("severity → {severity}").format(
                severity=_(labels.SEVERITY[Severity(entry.text or "")])
            )
            + "</i>"
        )
    elif entry.kind is TimelineKind.FIELD:
        field = _(labels.FIELD[IncidentField(entry.field)]) if entry.field else "?"
        what = "<i>" + text(f"{field} → ") + "</i>" + text(entry.text or "")
    elif entry.kind is TimelineKind.ASSIGNED:
        role = _(labels.ASSIGNMENT[Assignment(entry.field)]) if entry.field else "?"
        what = "<i>" + text(f"{role} → ") + "</i>" + text(entry.text or "")
    elif entry.kind is TimelineKind.ALERT:
        level = Severity(entry.field) if entry.field in set(Severity) else None
        what = (
            "📣 <i>"
            + _("sent alert #{id} ({severity})").format(
                id=text(entry.text or ""), severity=_(labels.SEVERITY[level]) if level else "?"
            )
            + "</i>"
        )
    elif entry.kind is TimelineKind.STATEMENT:
        what = "📰 <i>" + _("statement published to the media:") + "</i> " + text(entry.text or "")
    elif entry.kind is TimelineKind.CLOSED:
        what = "<i>" + _("closed the incident") + "</i>"
    elif entry.kind is TimelineKind.PHASE:
        from bot.render.phases import phase_entry

        what = phase_entry(tr, entry)
    else:
        what = text(entry.text or entry.kind.value)
    return f"<code>{tr.time(entry.at, timezone)}</code> <b>{who}</b>: {what}"


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
