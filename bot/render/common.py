"""Pieces shared by every rendered message: escaping, names, flags, timeline lines."""

from __future__ import annotations

from html import escape

from bot.core import vocabulary as labels
from bot.core.i18n import Translator
from bot.core.models import (
    Country,
    IncidentStatus,
    PersonRef,
    Severity,
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


def country_name(tr: Translator, value: Country) -> str:
    names = {Country.FR: tr.gettext("France"), Country.BE: tr.gettext("Belgium")}
    return names[value]


def country(tr: Translator, value: Country) -> str:
    return f"{FLAG[value]} {country_name(tr, value)}"


def coordinates(lat: float, lon: float) -> str:
    """A link a phone opens in its map application."""
    return (
        f'<a href="https://www.openstreetmap.org/?mlat={lat:.5f}&amp;mlon={lon:.5f}'
        f'#map=16/{lat:.5f}/{lon:.5f}">{lat:.5f}, {lon:.5f}</a>'
    )


def exercise_banner(tr: Translator) -> str:
    return "🧪 <b>" + tr.gettext("EXERCISE") + "</b>"
