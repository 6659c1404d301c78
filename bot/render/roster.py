"""/roster, /unit and the daily roll-call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from bot.core import vocabulary
from bot.core.i18n import Translator, each_language
from bot.core.models import CONFIRMED_BY_FILE, Country, ResourceType, Unit, UnitStatus
from bot.render.common import FLAG, text

MAX_UNITS_LISTED = 40


def places_free(tr: Translator, unit: Unit) -> str:
    """`4 / 6 free`: a facility's free places of its total."""
    return tr.gettext("{free} / {total} free").format(free=unit.free or 0, total=unit.capacity)


def unit_line(
    tr: Translator, unit: Unit, timezone: str, now: datetime, stale_after_hours: float
) -> str:
    """🟢 BE-WAPI-AMB-1 Ambulance Tournai 1 · ZS WAPI 🇧🇪 · available · ✔ 08:02 (name)"""
    _ = tr.gettext
    status = _(vocabulary.UNIT_STATUS[unit.status])
    if unit.status is UnitStatus.COMMITTED:
        if unit.deployment is not None:
            status = _(vocabulary.OFFER_STATUS[unit.deployment])
        if unit.incident_ref is not None:
            status += f" #{unit.incident_ref}"
    if unit.counted:
        status += " · " + places_free(tr, unit)
        if unit.held:
            status += " · " + tr.join(
                _("#{ref} holds {n}").format(ref=ref, n=n) for ref, n in unit.held
            )
    elif unit.capacity > 1:
        status += " · " + _("capacity {n}").format(n=unit.capacity)
    line = (
        f"{vocabulary.STATUS_MARK[unit.status]} <b>{text(unit.code)}</b> {text(unit.name)}"
        f" · {text(unit.agency)} {FLAG[unit.country]} · {status}"
    )
    if unit.note:
        line += f" · <i>{text(unit.note)}</i>"
    if unit.counted and unit.availability_stale(now, stale_after_hours):
        line += " · ⚠️ " + _("availability out of date")
        moment = unit.reported_at or unit.confirmed_at
        if moment is not None:
            line += " (" + tr.datetime(moment, timezone) + ")"
    elif unit.is_stale(now, stale_after_hours):
        line += " · ⚠️ " + _("to be confirmed again")
        if unit.confirmed_at is not None:
            line += " (" + tr.datetime(unit.confirmed_at, timezone) + ")"
    elif unit.confirmed_at is not None:
        line += " · ✔ " + tr.time(unit.confirmed_at, timezone)
    return line


def _roster_block(
    tr: Translator,
    units: Sequence[Unit],
    type_: ResourceType | None,
    country: Country | None,
    timezone: str,
    now: datetime,
    stale_after_hours: float,
) -> str:
    _ = tr.gettext
    title = _("Roster")
    if type_ is not None:
        title += " · " + _(vocabulary.TYPE[type_])
    if country is not None:
        title += f" · {FLAG[country]}"
    lines = [f"🗂 <b>{title}</b>"]
    if not units:
        lines.append(_("No unit matches."))
        return "\n".join(lines)
    available = Counter((u.type, u.country) for u in units if u.status is UnitStatus.AVAILABLE)
    total = Counter((u.type, u.country) for u in units)
    lines.append("<b>" + _("Available") + "</b>")
    for kind in ResourceType:
        counts = [
            f"{FLAG[c]} {available[(kind, c)]}/{total[(kind, c)]}"
            for c in Country
            if total[(kind, c)]
        ]
        if counts:
            lines.append(
                f"{vocabulary.TYPE_MARK[kind]} {_(vocabulary.TYPE[kind])}: " + "  ".join(counts)
            )
    lines.append("")
    lines.append("<b>" + _("Units, most recently confirmed first") + "</b>")
    for unit in units[:MAX_UNITS_LISTED]:
        lines.append(unit_line(tr, unit, timezone, now, stale_after_hours))
    if len(units) > MAX_UNITS_LISTED:
        lines.append(
            "<i>"
            + _("… and {n} more: narrow the list, for example /roster ambulance BE.").format(
                n=len(units) - MAX_UNITS_LISTED
            )
            + "</i>"
        )
    stale = sum(1 for u in units if u.is_stale(now, stale_after_hours))
    if stale:
        lines.append(
            "⚠️ "
            + tr.ngettext(
                "{n} unit not confirmed for more than {hours} h.",
                "{n} units not confirmed for more than {hours} h.",
                stale,
            ).format(n=stale, hours=f"{stale_after_hours:g}")
        )
    return "\n".join(lines)


def render_roster(
    units: Sequence[Unit],
    type_: ResourceType | None,
    country: Country | None,
    languages: Sequence[str],
    timezone: str,
    now: datetime,
    stale_after_hours: float,
) -> str:
    return each_language(
        languages,
        lambda tr: _roster_block(tr, units, type_, country, timezone, now, stale_after_hours),
    )


def render_unit(
    unit: Unit, languages: Sequence[str], timezone: str, now: datetime, stale_after_hours: float
) -> str:
    def block(tr: Translator) -> str:
        _ = tr.gettext
        lines = [
            unit_line(tr, unit, timezone, now, stale_after_hours),
            _("Type: {type}").format(type=_(vocabulary.TYPE[unit.type])),
        ]
        if unit.confirmed_at is not None and unit.confirmed_by == CONFIRMED_BY_FILE:
            lines.append(
                _("Status from the roster file, imported {time}").format(
                    time=tr.datetime(unit.confirmed_at, timezone)
                )
            )
        elif unit.confirmed_at is not None:
            lines.append(
                _("Confirmed {time} by {name}").format(
                    time=tr.datetime(unit.confirmed_at, timezone),
                    name=text(unit.confirmed_by or "?"),
                )
            )
        if unit.sample:
            lines.append("<i>" + _("Sample data: this unit is fictitious.") + "</i>")
        return "\n".join(lines)

    return each_language(languages, block)


def _rollcall_block(
    tr: Translator,
    agency: str,
    units: Sequence[Unit],
    timezone: str,
    now: datetime,
    stale_after_hours: float,
) -> str:
    _ = tr.gettext
    lines = [
        "📋 <b>" + _("Roll-call: {agency}").format(agency=text(agency)) + "</b>",
        text(
            _(
                "Are your units as listed? Tap a unit to confirm it, or confirm all. "
                "To change one: /unit <code> available|unavailable|maintenance."
            )
        ),
        "",
    ]
    lines.extend(unit_line(tr, unit, timezone, now, stale_after_hours) for unit in units)
    return "\n".join(lines)


def render_rollcall(
    agency: str,
    units: Sequence[Unit],
    languages: Sequence[str],
    timezone: str,
    now: datetime,
    stale_after_hours: float,
) -> str:
    return each_language(
        languages,
        lambda tr: _rollcall_block(tr, agency, units, timezone, now, stale_after_hours),
    )
