"""Escalation phases on the card, in /status, on the timeline and in the authorities' chats."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import Translator, each_language
from bot.core.models import Country, Incident, Level, PhaseState, TimelineEntry
from bot.core.vocabulary import AUTHORITY, LADDER, PHASE
from bot.render.common import FLAG, text


def phase_name(tr: Translator, country: Country, level: Level) -> str:
    return tr.gettext(PHASE[(country, level)])


def phase_lines(tr: Translator, states: Sequence[PhaseState], timezone: str) -> list[str]:
    """'🇧🇪 provincial phase, since 14:02: the provincial governor in charge'."""
    _ = tr.gettext
    lines = []
    for state in states:
        mark = "🔺" if state.level is not Level.COMMUNAL else ""
        lines.append(
            f"{FLAG[state.country]}{mark} "
            + _("{phase} since {time}: {authority} in charge").format(
                phase="<b>" + phase_name(tr, state.country, state.level) + "</b>",
                time=tr.time(state.since, timezone),
                authority=_(AUTHORITY[(state.country, state.level)]),
            )
        )
    return lines


def phase_entry(tr: Translator, entry: TimelineEntry) -> str:
    """A timeline line's words for a phase change."""
    _ = tr.gettext
    try:
        country = Country(entry.field or "")
        level = Level(entry.text or "")
    except ValueError:
        return text(entry.text or "")
    return (
        f"{FLAG[country]} <i>"
        + _("phase → {phase} ({authority})").format(
            phase=phase_name(tr, country, level), authority=_(AUTHORITY[(country, level)])
        )
        + "</i>"
    )


def phase_notice(
    tr: Translator, incident: Incident, country: Country, old: Level, new: Level
) -> str:
    _ = tr.gettext
    ladder = LADDER[country]
    up = ladder.index(new) > ladder.index(old)
    headline = (
        _("⬆️ Escalation of #{ref}: {phase}").format(
            ref=incident.ref, phase=phase_name(tr, country, new)
        )
        if up
        else _("⬇️ De-escalation of #{ref}: {phase}").format(
            ref=incident.ref, phase=phase_name(tr, country, new)
        )
    )
    lines = [
        f"{FLAG[country]} <b>{headline}</b>",
        f"🚨 {text(incident.title)}",
        _("Authority in charge: {authority} (before: {before}).").format(
            authority=_(AUTHORITY[(country, new)]), before=_(AUTHORITY[(country, old)])
        ),
    ]
    if incident.location_text:
        lines.append(_("Location: {location}").format(location=text(incident.location_text)))
    if incident.commander:
        lines.append(_("Commander: {name}").format(name=text(incident.commander.name)))
    return "\n".join(lines)


def render_phase_changes(
    ref: int, changes: Sequence[tuple[Country, Level, Level]], up: bool, languages: Sequence[str]
) -> str:
    """The commander's answer to /escalate or /deescalate: each country's new level."""

    def block(tr: Translator) -> str:
        _ = tr.gettext
        lines = []
        for changed, _old, new in changes:
            message = _("{flag} #{ref}: {phase}.") if up else _("{flag} #{ref}: back to {phase}.")
            authority = _("{authority} in charge").format(authority=_(AUTHORITY[(changed, new)]))
            lines.append(
                message.format(flag=FLAG[changed], ref=ref, phase=phase_name(tr, changed, new))
                + " "
                + authority
            )
        return "\n".join(lines)

    return each_language(languages, block)


def render_phase_notice(
    incident: Incident, country: Country, old: Level, new: Level, languages: Sequence[str]
) -> str:
    """What the authorities' chats read: which incident, which level now, who is in charge."""
    return each_language(languages, lambda tr: phase_notice(tr, incident, country, old, new))
