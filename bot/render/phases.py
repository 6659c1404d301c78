"""Escalation phases on the card, in /status, on the timeline and in the authorities' chats."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import Translator, each_language
from bot.core.models import (
    Country,
    Incident,
    Involvement,
    Level,
    PhaseState,
    TimelineEntry,
    TimelineKind,
)
from bot.core.vocabulary import AUTHORITY, LADDER, PHASE
from bot.render.common import FLAG, country_name, text
from bot.render.common import country as common_country


def phase_name(tr: Translator, country: Country, level: Level) -> str:
    return tr.gettext(PHASE[(country, level)])


def phase_lines(tr: Translator, states: Sequence[PhaseState], timezone: str) -> list[str]:
    """'🇧🇪 provincial phase since 14:02 · in charge: the provincial governor'; for another
    country, how it is involved: by an escalation (its level, and who involved it), or
    only through its units (under the command of the incident's country)."""
    _ = tr.gettext
    own = next((s.country for s in states if s.involvement is Involvement.OWN), None)
    lines = []
    for state in states:
        mark = "🔺" if state.level is not Level.COMMUNAL else ""
        flag = FLAG[state.country]
        if state.involvement is Involvement.UNITS:
            if own is None:
                continue
            lines.append(
                f"{flag} "
                + _(
                    "{country} involved: its units work under the command of {incident_country}"
                ).format(
                    country=country_name(tr, state.country),
                    incident_country=country_name(tr, own),
                )
            )
            continue
        level = _("{phase} since {time} · in charge: {authority}").format(
            phase="<b>" + phase_name(tr, state.country, state.level) + "</b>",
            time=tr.time(state.since, timezone),
            authority=_(AUTHORITY[(state.country, state.level)]),
        )
        if state.involvement is Involvement.ESCALATED:
            level = (
                _("{country} involved, by {name}: {level}").format(
                    country=country_name(tr, state.country), name=text(state.by), level=level
                )
                if state.by
                else _("{country} involved: {level}").format(
                    country=country_name(tr, state.country), level=level
                )
            )
        lines.append(f"{flag}{mark} {level}")
    return lines


def phase_entry(tr: Translator, entry: TimelineEntry) -> str:
    """A timeline line's words for a phase change, or for a country made involved."""
    _ = tr.gettext
    try:
        country = Country(entry.field or "")
        level = Level(entry.text or "")
    except ValueError:
        return text(entry.text or "")
    if entry.kind is TimelineKind.INVOLVED:
        return (
            f"{FLAG[country]} <i>"
            + _("{country} involved: {phase} ({authority})").format(
                country=country_name(tr, country),
                phase=phase_name(tr, country, level),
                authority=_(AUTHORITY[(country, level)]),
            )
            + "</i>"
        )
    return (
        f"{FLAG[country]} <i>"
        + _("phase → {phase} ({authority})").format(
            phase=phase_name(tr, country, level), authority=_(AUTHORITY[(country, level)])
        )
        + "</i>"
    )


def phase_notice(
    tr: Translator, incident: Incident, country: Country, old: Level | None, new: Level
) -> str:
    """`old`: None when the change made the country involved (an incident of the other
    country, a plume across the border)."""
    _ = tr.gettext
    phase = phase_name(tr, country, new)
    if old is None:
        headline = _("⬆️ {country} involved in #{ref} ({incident_country}): {phase}").format(
            country=country_name(tr, country),
            ref=incident.ref,
            incident_country=common_country(tr, incident.country),
            phase=phase,
        )
        authority = _("Authority in charge: {authority}.").format(
            authority=_(AUTHORITY[(country, new)])
        )
    else:
        ladder = LADDER[country]
        up = ladder.index(new) > ladder.index(old)
        headline = (
            _("⬆️ Escalation of #{ref}: {phase}").format(ref=incident.ref, phase=phase)
            if up
            else _("⬇️ De-escalation of #{ref}: {phase}").format(ref=incident.ref, phase=phase)
        )
        authority = _("Authority in charge: {authority} (before: {before}).").format(
            authority=_(AUTHORITY[(country, new)]), before=_(AUTHORITY[(country, old)])
        )
    lines = [f"{FLAG[country]} <b>{headline}</b>", f"🚨 {text(incident.title)}", authority]
    if incident.location_text:
        lines.append(_("Location: {location}").format(location=text(incident.location_text)))
    if incident.commander:
        lines.append(_("Commander: {name}").format(name=text(incident.commander.name)))
    return "\n".join(lines)


def render_phase_changes(
    ref: int,
    changes: Sequence[tuple[Country, Level | None, Level]],
    up: bool,
    languages: Sequence[str],
) -> str:
    """The commander's answer to /escalate or /deescalate: each country's new level (a
    country the change made involved says so)."""

    def block(tr: Translator) -> str:
        _ = tr.gettext
        lines = []
        for changed, old, new in changes:
            phase = phase_name(tr, changed, new)
            if old is None:
                said = _("{flag} #{ref}: {country} involved, {phase}.").format(
                    flag=FLAG[changed], ref=ref, country=country_name(tr, changed), phase=phase
                )
            else:
                message = (
                    _("{flag} #{ref}: {phase}.") if up else _("{flag} #{ref}: back to {phase}.")
                )
                said = message.format(flag=FLAG[changed], ref=ref, phase=phase)
            authority = _("Authority in charge: {authority}.").format(
                authority=_(AUTHORITY[(changed, new)])
            )
            lines.append(said + " " + authority)
        return "\n".join(lines)

    return each_language(languages, block)


def render_phase_notice(
    incident: Incident,
    country: Country,
    old: Level | None,
    new: Level,
    languages: Sequence[str],
) -> str:
    """What the authorities' chats read: which incident, which level now, who is in charge."""
    return each_language(languages, lambda tr: phase_notice(tr, incident, country, old, new))
