"""/status: the whole situation in one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.i18n import Translator, each_language
from bot.core.models import Incident, Surroundings, TimelineEntry
from bot.render.card import incident_facts, incident_heading
from bot.render.timeline import timeline_line

MAX_MESSAGE = 4096


def _status_block(
    tr: Translator,
    incidents: Sequence[Incident],
    timelines: Mapping[int, Sequence[TimelineEntry]],
    timezone: str,
    around: Mapping[int, Surroundings],
) -> str:
    _ = tr.gettext
    if not incidents:
        return "📋 " + _("No open incident.")
    parts = [
        "📋 <b>"
        + tr.ngettext("{n} open incident", "{n} open incidents", len(incidents)).format(
            n=len(incidents)
        )
        + "</b>"
    ]
    for incident in incidents:
        lines = [
            incident_heading(tr, incident),
            *incident_facts(tr, incident, timezone, around.get(incident.ref)),
        ]
        entries = timelines.get(incident.ref, [])
        if entries:
            lines.append("<i>" + _("Latest:") + "</i>")
            lines.extend(timeline_line(tr, e, timezone) for e in entries)
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_status(
    incidents: Sequence[Incident],
    timelines: Mapping[int, Sequence[TimelineEntry]],
    languages: Sequence[str],
    timezone: str,
    around: Mapping[int, Surroundings] | None = None,
) -> str:
    """`around`: per incident, its phases and the at-risk sites it lies near."""
    return each_language(
        languages, lambda tr: _status_block(tr, incidents, timelines, timezone, around or {})
    )
