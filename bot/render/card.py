"""The incident card: one message per chat, pinned, edited in place."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from bot.core.html import TELEGRAM_LIMIT, plain_length, shorten_html
from bot.core.i18n import Translator, each_language, local_day
from bot.core.models import Incident, MediaKind, ResourceRequest, Surroundings, TimelineEntry
from bot.render import common
from bot.render.common import text
from bot.render.media import media_counts
from bot.render.phases import phase_lines
from bot.render.requests import resources_section
from bot.render.sites import warning_lines
from bot.render.timeline import lines_by_day

# Telegram shows at most 4096 characters; a timeline of long notes must not break the card.
MAX_NOTE_ON_CARD = 280


# When the card is still too long: shorter notes, then fewer of them (note length, entries).
_TIGHTER = ((120, 5), (60, 3), (40, 1))


def _shorten(entry: TimelineEntry, limit: int = MAX_NOTE_ON_CARD) -> TimelineEntry:
    if entry.text and len(entry.text) > limit:
        return entry.model_copy(update={"text": entry.text[: limit - 1] + "…"})
    return entry


def incident_heading(tr: Translator, incident: Incident) -> str:
    heading = f"🚨 <b>#{incident.ref} {text(incident.title)}</b>"
    if incident.exercise:
        heading = common.exercise_banner(tr) + "\n" + heading
    return heading


def incident_facts(
    tr: Translator, incident: Incident, timezone: str, around: Surroundings | None = None
) -> list[str]:
    """The lines that describe an incident, shared by the card and /status; `around`: the
    phases of the countries involved and the at-risk sites it lies near."""
    _ = tr.gettext
    lines = [
        _("Status: {status}").format(status=common.status(tr, incident.status))
        + "   "
        + _("Severity: {severity}").format(severity=common.severity(tr, incident.severity)),
    ]
    if incident.type:
        lines.append(_("Type: {type}").format(type=text(incident.type)))
    where = text(incident.location_text) if incident.location_text else ""
    if incident.lat is not None and incident.lon is not None:
        where = (
            (where + " " if where else "") + "📍 " + common.coordinates(incident.lat, incident.lon)
        )
    lines.append(_("Location: {location}").format(location=where or _("unknown")))
    lines.append(_("Country: {country}").format(country=common.country(tr, incident.country)))
    if around is not None:
        lines.extend(warning_lines(tr, around.sites))
        lines.extend(phase_lines(tr, around.phases, timezone))
    lines.append(_("Commander: {name}").format(name=common.person(tr, incident.commander)))
    lines.append(_("Spokesperson: {name}").format(name=common.person(tr, incident.spokesperson)))
    if incident.liaison:
        lines.append(_("Liaison officer: {name}").format(name=text(incident.liaison.name)))
    return lines


def _card_block(
    tr: Translator,
    incident: Incident,
    timeline: Sequence[TimelineEntry],
    timezone: str,
    requests: Sequence[ResourceRequest] = (),
    around: Surroundings | None = None,
    note_limit: int = MAX_NOTE_ON_CARD,
    media: Mapping[MediaKind, int] | None = None,
) -> str:
    _ = tr.gettext
    lines = [incident_heading(tr, incident), *incident_facts(tr, incident, timezone, around)]
    times = _("Declared {declared} · updated {updated}").format(
        declared=tr.datetime(incident.declared_at, timezone),
        updated=tr.time(incident.updated_at, timezone),
    )
    if incident.closed_at:
        times += " · " + _("closed {closed}").format(
            closed=tr.datetime(incident.closed_at, timezone)
        )
    lines.append(f"<i>{times}</i>")
    lines.extend(resources_section(tr, requests, timezone))
    if timeline:
        lines.append("")
        lines.append("<b>" + _("Timeline") + "</b>")
        if media:
            # what the field sent, all of it (the lines below are only the latest)
            lines.append(_("Media: {counts}").format(counts=media_counts(media)))
        # an incident that runs over several days heads each day with its date
        days = {local_day(incident.declared_at, timezone)}
        days.update(local_day(e.at, timezone) for e in timeline)
        shown = [_shorten(e, note_limit) for e in timeline]
        lines.extend(lines_by_day(tr, shown, timezone, headed=len(days) > 1))
    if incident.is_open:
        lines.append("")
        lines.append("<i>" + _("Reply to this card to add to the timeline.") + "</i>")
    return "\n".join(lines)


def _tighter_block(
    tr: Translator,
    *,
    incident: Incident,
    timeline: Sequence[TimelineEntry],
    timezone: str,
    requests: Sequence[ResourceRequest],
    around: Surroundings | None,
    note_limit: int,
    media: Mapping[MediaKind, int] | None = None,
) -> str:
    return _card_block(tr, incident, timeline, timezone, requests, around, note_limit, media)


def render_card(
    incident: Incident,
    timeline: Sequence[TimelineEntry],
    languages: Sequence[str],
    timezone: str,
    requests: Sequence[ResourceRequest] = (),
    around: Surroundings | None = None,
    media: Mapping[MediaKind, int] | None = None,
) -> str:
    """`requests`: the incident's resource requests, for its Resources section; `media`: how
    many items of each kind its timeline holds (📷 3 · 🎙 1).

    A card is one message: when long notes or fields would take it past Telegram's 4096
    characters, its notes are shortened, then fewer are shown, then the text is cut safely."""
    html = each_language(
        languages,
        lambda tr: _card_block(
            tr, incident, timeline, timezone, requests, around, MAX_NOTE_ON_CARD, media
        ),
    )
    for note_limit, entries in _TIGHTER:
        if plain_length(html) <= TELEGRAM_LIMIT:
            return html
        html = each_language(
            languages,
            functools.partial(
                _tighter_block,
                incident=incident,
                timeline=timeline[-entries:],
                timezone=timezone,
                requests=requests,
                around=around,
                note_limit=note_limit,
                media=media,
            ),
        )
    return shorten_html(html, TELEGRAM_LIMIT)
