"""The situation map, drawn offline: the incident, committed and nearby available units, the
at-risk sites with their planning radius, the France–Belgium border, town names, a scale bar
and a legend. Pure: data in, PNG bytes out (matplotlib's Agg backend, no tile server).

The projection is equirectangular with the aspect corrected by cos(latitude): at this scale
(tens of kilometres) distances are true to within a fraction of a percent.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from bot.core.i18n import N_
from bot.core.models import Place, Site, SiteKind
from bot.core.vocabulary import KIND
from bot.geo.gazetteer import places

if TYPE_CHECKING:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

KM_PER_DEGREE = 111.195
WIDTH_PX, HEIGHT_PX, DPI = 1000, 800, 100
MIN_HALF_SPAN_KM = 12.0
MAX_HALF_SPAN_KM = 90.0
ATTRIBUTION = "Border: Natural Earth (public domain) · places: GeoNames (CC BY 4.0)"

# Markers per unit type (matplotlib marker, colour); anything else is a grey dot.
UNIT_STYLE: dict[str, tuple[str, str]] = {
    "ambulance": ("P", "#1f77b4"),
    "smur": ("P", "#17becf"),
    "pit": ("P", "#9edae5"),
    "fire_engine": ("s", "#d62728"),
    "aerial_ladder": ("^", "#ff7f0e"),
    "hazmat": ("D", "#9467bd"),
    "water_tender": ("o", "#2ca02c"),
    "pump": ("v", "#8c564b"),
    "boat": ("<", "#1f3b73"),
    "rescue_team": (">", "#e377c2"),
    "civil_protection": ("h", "#bcbd22"),
    "burns_bed": ("X", "#7f7f7f"),
    "icu_bed": ("X", "#393b79"),
    "shelter": ("H", "#637939"),
    "volunteers": ("p", "#8c6d31"),
}
SITE_COLOUR: dict[SiteKind, str] = {
    SiteKind.SEVESO_HIGH: "#c00000",
    SiteKind.SEVESO_LOW: "#e67e22",
    SiteKind.NUCLEAR: "#8e44ad",
    SiteKind.RAIL_YARD: "#555555",
    SiteKind.DAM: "#2e86c1",
    SiteKind.FLOOD_ZONE: "#3498db",
    SiteKind.OTHER: "#7f8c8d",
}


@dataclass(frozen=True)
class MapUnit:
    code: str
    type: str  # bot.models.ResourceType value
    type_label: str  # translated
    lat: float
    lon: float
    committed: bool


@dataclass(frozen=True)
class MapData:
    ref: int
    title: str
    lat: float
    lon: float
    units: Sequence[MapUnit] = ()
    sites: Sequence[Site] = ()
    when: str = ""  # already formatted for the reader


@cache
def border() -> tuple[tuple[float, float], ...]:
    """The France–Belgium border, west to east, as (lat, lon)."""
    text = (resources.files("bot") / "data" / "border_fr_be.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple((float(r["lat"]), float(r["lon"])) for r in rows)


def _extent(data: MapData) -> tuple[float, float, float, float]:
    """(min lon, max lon, min lat, max lat) holding the incident, its units and sites, with a
    margin; at least MIN_HALF_SPAN_KM around the incident, at most MAX_HALF_SPAN_KM."""
    cos_lat = math.cos(math.radians(data.lat))
    half_km = MIN_HALF_SPAN_KM
    points = [(u.lat, u.lon, 0.0) for u in data.units]
    points += [(s.lat, s.lon, s.radius_km) for s in data.sites]
    for lat, lon, radius in points:
        dy = abs(lat - data.lat) * KM_PER_DEGREE
        dx = abs(lon - data.lon) * KM_PER_DEGREE * cos_lat
        half_km = max(half_km, (max(dx, dy) + radius) * 1.1)
    half_km = min(half_km, MAX_HALF_SPAN_KM)
    dlat = half_km / KM_PER_DEGREE
    dlon = half_km / (KM_PER_DEGREE * cos_lat) * WIDTH_PX / HEIGHT_PX
    return data.lon - dlon, data.lon + dlon, data.lat - dlat, data.lat + dlat


def _nice_km(span_km: float) -> float:
    target = span_km / 5
    for step in (1, 2, 5, 10, 20, 25, 50, 100):
        if step >= target:
            return float(step)
    return 100.0


def _towns(extent: tuple[float, float, float, float], limit: int = 14) -> list[Place]:
    lon0, lon1, lat0, lat1 = extent
    inside = [p for p in places() if lon0 <= p.lon <= lon1 and lat0 <= p.lat <= lat1]
    return sorted(inside, key=lambda p: -p.population)[:limit]


def render_map(data: MapData, gettext: Callable[[str], str]) -> bytes:
    """The map as PNG bytes; every word through `gettext` (the chat's languages)."""
    # matplotlib takes most of a second to import: loaded with the first map, not at start
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse, Patch

    _ = gettext
    extent = _extent(data)
    lon0, lon1, lat0, lat1 = extent
    cos_lat = math.cos(math.radians(data.lat))
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.06, 0.07, 0.92, 0.85))
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    ax.set_aspect(1 / cos_lat, adjustable="box")
    ax.set_facecolor("#f4f1ea")
    ax.grid(color="#dddddd", linewidth=0.5)
    ax.tick_params(labelsize=7, colors="#777777")
    handles: list[Line2D | Patch] = []

    line = border()
    ax.plot(
        [p[1] for p in line],
        [p[0] for p in line],
        color="#444444",
        linewidth=2.0,
        linestyle=(0, (6, 3)),
        zorder=2,
    )
    handles.append(
        Line2D(
            [], [], color="#444444", linewidth=2, linestyle="--", label=_("France–Belgium border")
        )
    )

    for town in _towns(extent):
        ax.plot(town.lon, town.lat, "o", color="#999999", markersize=3, zorder=3)
        ax.annotate(
            town.name,
            (town.lon, town.lat),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=7,
            color="#555555",
            zorder=3,
        )

    kinds_shown: set[SiteKind] = set()
    for site in data.sites:
        colour = SITE_COLOUR[site.kind]
        ax.add_patch(
            Ellipse(
                (site.lon, site.lat),
                width=2 * site.radius_km / (KM_PER_DEGREE * cos_lat),
                height=2 * site.radius_km / KM_PER_DEGREE,
                facecolor=colour,
                alpha=0.15,
                edgecolor=colour,
                linewidth=1.5,
                zorder=4,
            )
        )
        ax.plot(site.lon, site.lat, marker="^", color=colour, markersize=9, zorder=5)
        ax.annotate(
            site.name,
            (site.lon, site.lat),
            xytext=(5, -10),
            textcoords="offset points",
            fontsize=7,
            color=colour,
            zorder=5,
        )
        kinds_shown.add(site.kind)
    for kind in sorted(kinds_shown):
        handles.append(
            Patch(
                facecolor=SITE_COLOUR[kind],
                alpha=0.4,
                edgecolor=SITE_COLOUR[kind],
                label=_("{kind} (planning radius)").format(kind=_(KIND[kind])),
            )
        )

    types_shown: dict[tuple[str, bool], str] = {}
    for unit in data.units:
        marker, colour = UNIT_STYLE.get(unit.type, ("o", "#7f7f7f"))
        ax.plot(
            unit.lon,
            unit.lat,
            marker=marker,
            markersize=9,
            markerfacecolor=colour if unit.committed else "white",
            markeredgecolor=colour,
            markeredgewidth=1.8,
            linestyle="none",
            zorder=6,
        )
        ax.annotate(
            unit.code,
            (unit.lon, unit.lat),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=6,
            color=colour,
            zorder=6,
        )
        types_shown[(unit.type, unit.committed)] = unit.type_label
    for (type_, committed), label in sorted(
        types_shown.items(), key=lambda kv: (not kv[0][1], kv[1])
    ):
        marker, colour = UNIT_STYLE.get(type_, ("o", "#7f7f7f"))
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="none",
                markersize=8,
                markerfacecolor=colour if committed else "white",
                markeredgecolor=colour,
                markeredgewidth=1.8,
                label=(_("{type}, committed") if committed else _("{type}, available")).format(
                    type=label
                ),
            )
        )

    ax.plot(
        data.lon,
        data.lat,
        marker="*",
        color="#e60000",
        markersize=20,
        zorder=8,
        markeredgecolor="black",
    )
    handles.insert(
        0,
        Line2D(
            [],
            [],
            marker="*",
            color="#e60000",
            markeredgecolor="black",
            markersize=14,
            linestyle="none",
            label=_("Incident #{ref}").format(ref=data.ref),
        ),
    )

    # scale bar, bottom left
    span_km = (lon1 - lon0) * KM_PER_DEGREE * cos_lat
    bar_km = _nice_km(span_km)
    x0 = lon0 + (lon1 - lon0) * 0.04
    y0 = lat0 + (lat1 - lat0) * 0.04
    bar_deg = bar_km / (KM_PER_DEGREE * cos_lat)
    ax.plot(
        [x0, x0 + bar_deg], [y0, y0], color="black", linewidth=4, solid_capstyle="butt", zorder=9
    )
    ax.text(
        x0 + bar_deg / 2,
        y0 + (lat1 - lat0) * 0.012,
        f"{bar_km:g} km",
        ha="center",
        fontsize=9,
        zorder=9,
    )

    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    title = _("Situation map of #{ref}").format(ref=data.ref) + f" · {data.title}"
    figure.suptitle(title[:110], fontsize=12, fontweight="bold")
    if data.when:
        ax.set_title(data.when, fontsize=8, color="#555555")
    figure.text(0.99, 0.01, ATTRIBUTION, ha="right", fontsize=6, color="#777777")
    out = io.BytesIO()
    # the legend's words also as PNG text, for systems (and tests) that read no pixels
    legend = " | ".join(str(h.get_label()) for h in handles)
    figure.savefig(
        out,
        format="png",
        dpi=DPI,
        metadata={"Title": title, "Description": legend, "Source": ATTRIBUTION},
    )
    return out.getvalue()


# translated where the map is drawn
_WORDS = (
    N_("France–Belgium border"),
    N_("{kind} (planning radius)"),
    N_("{type}, committed"),
    N_("{type}, available"),
    N_("Incident #{ref}"),
    N_("Situation map of #{ref}"),
)
