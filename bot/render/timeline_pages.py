"""/timeline: an incident's whole timeline in the chat, one page at a time.

Pages are cut from the whole timeline the same way every time (a press on ◀ ▶ renders the page
again from what is stored then): at most PAGE_ENTRIES entries, and never more than Telegram
shows in one message in every language of the chat. Each page heads the days it covers with
their date, and numbers the entries by their place in the whole timeline (as the map does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.html import TELEGRAM_LIMIT, plain_length, shorten_html
from bot.core.i18n import BLOCK_SEPARATOR, Translator, each_language, local_day, translator
from bot.core.models import Incident, TimelineEntry
from bot.render.common import text
from bot.render.timeline import day_heading, lines_by_day, timeline_line

PAGE_ENTRIES = 12
# room kept on a page for its heading line (the incident's title is cut to fit it)
_MAX_TITLE = 120
_HEADER_ROOM = 60 + _MAX_TITLE
# a note longer than a page can hold (two languages of a 2000-character note) is cut
_MIN_NOTE = 200


@dataclass(frozen=True)
class TimelinePage:
    html: str
    number: int  # from 1
    count: int


def _title(incident: Incident) -> str:
    title = incident.title
    return title if len(title) <= _MAX_TITLE else title[: _MAX_TITLE - 1] + "…"


def _header(tr: Translator, incident: Incident, number: int, count: int) -> str:
    _ = tr.gettext
    heading = _("Timeline of #{ref} {title}").format(ref=incident.ref, title=text(_title(incident)))
    page = _("page {page} of {pages}").format(page=number, pages=count)
    return f"🗒 <b>{heading}</b> · <i>{page}</i>"


def _cost(translators: Sequence[Translator], entry: TimelineEntry, timezone: str) -> int:
    """The characters an entry takes on a page, in every language (with its number)."""
    return sum(plain_length(timeline_line(tr, entry, timezone)) + 8 for tr in translators)


def _heading_cost(translators: Sequence[Translator], entry: TimelineEntry, timezone: str) -> int:
    return sum(plain_length(day_heading(tr, entry, timezone)) + 1 for tr in translators)


def _budget(translators: Sequence[Translator]) -> int:
    separators = plain_length(BLOCK_SEPARATOR) * (len(translators) - 1)
    return TELEGRAM_LIMIT - separators - _HEADER_ROOM * len(translators)


def _fitted(
    translators: Sequence[Translator], entry: TimelineEntry, timezone: str, room: int
) -> TimelineEntry:
    """The entry, its text cut when even alone it would not fit on a page."""
    if entry.text is None or _cost(translators, entry, timezone) <= room:
        return entry
    fixed = _cost(translators, entry.model_copy(update={"text": ""}), timezone)
    keep = max(_MIN_NOTE, (room - fixed) // len(translators) - 1)
    return entry.model_copy(update={"text": entry.text[:keep] + "…"})


def paginate(
    entries: Sequence[TimelineEntry], languages: Sequence[str], timezone: str
) -> list[tuple[int, int]]:
    """The pages as (first, end) indices into `entries`."""
    translators = [translator(language) for language in languages] or [translator("en")]
    budget = _budget(translators)
    pages: list[tuple[int, int]] = []
    start, used = 0, 0
    for index, entry in enumerate(entries):
        new_day = index == start or local_day(entry.at, timezone) != local_day(
            entries[index - 1].at, timezone
        )
        cost = min(_cost(translators, entry, timezone), budget)
        heading = _heading_cost(translators, entry, timezone)
        full = index - start >= PAGE_ENTRIES
        if index > start and (full or used + cost + (heading if new_day else 0) > budget):
            pages.append((start, index))
            start, used = index, 0
            new_day = True
        used += cost + (heading if new_day else 0)
    if start < len(entries) or not pages:
        pages.append((start, len(entries)))
    return pages


def render_timeline_page(
    incident: Incident,
    entries: Sequence[TimelineEntry],
    languages: Sequence[str],
    timezone: str,
    page: int,
) -> TimelinePage:
    """Page `page` (from 1; one past either end shows the nearest page) of the whole timeline
    `entries`, in every language of the chat."""
    pages = paginate(entries, languages, timezone)
    number = min(max(page, 1), len(pages))
    first, end = pages[number - 1]
    translators = [translator(language) for language in languages] or [translator("en")]
    heading = _heading_cost(translators, entries[first], timezone) if first < end else 0
    room = _budget(translators) - heading
    shown = [_fitted(translators, e, timezone, room) for e in entries[first:end]]

    def block(tr: Translator) -> str:
        lines = [_header(tr, incident, number, len(pages))]
        if shown:
            lines.extend(lines_by_day(tr, shown, timezone, first_number=first + 1))
        else:
            lines.append("<i>" + tr.gettext("Nothing on the timeline yet.") + "</i>")
        return "\n".join(lines)

    html = each_language(languages, block)
    # the budget is measured, with room to spare: this only guards against a surprise
    return TimelinePage(shorten_html(html, TELEGRAM_LIMIT), number, len(pages))
