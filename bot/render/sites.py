"""At-risk sites: the warning on the card and in /status, and the /sites list."""

from __future__ import annotations

from collections.abc import Sequence

from babel.lists import format_list

from bot.core.i18n import Translator, each_language
from bot.core.models import SiteNear
from bot.core.vocabulary import HAZARD, KIND, KIND_MARK
from bot.render.common import FLAG, text


def km(tr: Translator, value: float) -> str:
    from babel.numbers import format_decimal

    return format_decimal(round(value, 1), format="#,##0.0", locale=tr.locale) + " km"


def site_warning(tr: Translator, near: SiteNear) -> str:
    """'⚠️ ☢️ 1.8 km from a nuclear plant: CNPE de Chooz (radius 20 km) · plan: PPI …'."""
    _ = tr.gettext
    site = near.site
    line = f"⚠️ {KIND_MARK[site.kind]} " + _(
        "{distance} away: {kind} {name} (planning radius {radius})"
    ).format(
        distance=km(tr, near.distance_km),
        kind=_(KIND[site.kind]),
        name="<b>" + text(site.name) + "</b>",
        radius=km(tr, site.radius_km),
    )
    if site.plan:
        line += " · " + _("plan: {plan}").format(plan=text(site.plan))
    return line


def warning_lines(tr: Translator, found: Sequence[SiteNear]) -> list[str]:
    return [site_warning(tr, n) for n in found if n.inside]


def _sites_block(tr: Translator, where: str, found: Sequence[SiteNear], within_km: float) -> str:
    _ = tr.gettext
    lines = [
        "🗺 <b>" + _("At-risk sites near {place}").format(place=where) + "</b>",
    ]
    if not found:
        lines.append(_("None within {distance}.").format(distance=km(tr, within_km)))
    for near in found:
        site = near.site
        mark = "⚠️ " if near.inside else ""
        line = (
            f"{mark}{KIND_MARK[site.kind]} {FLAG[site.country]} <b>{text(site.name)}</b> · "
            + _(KIND[site.kind])
            + " · "
            + _("{distance} away, planning radius {radius}").format(
                distance=km(tr, near.distance_km), radius=km(tr, site.radius_km)
            )
        )
        details = []
        if site.hazards or site.hazard_note:
            named = [_(HAZARD[h]) for h in site.hazards]
            if site.hazard_note:
                named.append(f"<i>{text(site.hazard_note)}</i>")
            details.append(
                _("hazards: {hazards}").format(hazards=format_list(named, locale=tr.locale))
            )
        if site.population is not None:
            details.append(_("population in the radius: {n}").format(n=site.population))
        if site.plan:
            details.append(_("plan: {plan}").format(plan=text(site.plan)))
        if site.sample:
            details.append(_("sample data"))
        if details:
            line += "\n    " + " · ".join(details)
        lines.append(line)
    return "\n".join(lines)


def render_sites(
    where: str, found: Sequence[SiteNear], within_km: float, languages: Sequence[str]
) -> str:
    """`where` is already HTML-safe."""
    return each_language(languages, lambda tr: _sites_block(tr, where, found, within_km))
