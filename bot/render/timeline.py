"""One line of an incident's timeline, as the card, /status and the report show it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core import vocabulary as labels
from bot.core.i18n import Translator, local_day
from bot.core.models import (
    Assignment,
    IncidentField,
    IncidentStatus,
    Severity,
    TimelineEntry,
    TimelineKind,
)
from bot.render.common import coordinates, text
from bot.render.media import media_line
from bot.render.phases import phase_entry


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
    elif entry.kind in (TimelineKind.PHASE, TimelineKind.INVOLVED):
        what = phase_entry(tr, entry)
    elif entry.kind is TimelineKind.MEDIA:
        what = media_line(tr, entry)
    else:
        what = text(entry.text or entry.kind.value)
    if entry.edited_at is not None:
        what += f" <i>(✏️ {_edited(tr, entry, timezone)})</i>"
    return f"<code>{tr.time(entry.at, timezone)}</code> <b>{who}</b>: {what}"


def _edited(tr: Translator, entry: TimelineEntry, timezone: str) -> str:
    """When the entry was edited: the time, with the date when that is another day."""
    assert entry.edited_at is not None
    if local_day(entry.edited_at, timezone) == local_day(entry.at, timezone):
        return tr.gettext("edited at {time}").format(time=tr.time(entry.edited_at, timezone))
    return tr.gettext("edited on {date}").format(date=tr.datetime(entry.edited_at, timezone))


# --- the days an incident spans ----------------------------------------------------------------


def day_heading(tr: Translator, entry: TimelineEntry, timezone: str) -> str:
    """The heading of a day of the timeline: "📅 <b>mardi 1 décembre 2026</b>"."""
    return f"📅 <b>{tr.day(entry.at, timezone)}</b>"


def days_of(
    entries: Sequence[TimelineEntry], timezone: str
) -> list[tuple[int, list[TimelineEntry]]]:
    """The entries day by day (in that time zone), each day with its first entry's number."""
    days: list[tuple[int, list[TimelineEntry]]] = []
    previous: date | None = None
    for number, entry in enumerate(entries, start=1):
        today = local_day(entry.at, timezone)
        if today != previous:
            days.append((number, []))
        days[-1][1].append(entry)
        previous = today
    return days


def lines_by_day(
    tr: Translator,
    entries: Sequence[TimelineEntry],
    timezone: str,
    *,
    first_number: int | None = None,
    headed: bool = True,
) -> list[str]:
    """Timeline lines, each day they cover headed by its date (`headed`), numbered from
    `first_number` when given (an entry's number is its place in the whole timeline)."""
    lines: list[str] = []
    day: date | None = None
    for index, entry in enumerate(entries):
        today = local_day(entry.at, timezone)
        if headed and today != day:
            lines.append(day_heading(tr, entry, timezone))
        day = today
        line = timeline_line(tr, entry, timezone)
        if first_number is not None:
            line = f"{first_number + index}. {line}"
        lines.append(line)
    return lines
