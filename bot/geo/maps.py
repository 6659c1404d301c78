"""The situation map, drawn offline: the incident, committed and nearby available units, the
at-risk sites with their planning radius, the France–Belgium border, town names, a scale bar
and, below the map, a legend whose each entry reads whole in each of the chat's languages.
Labels are placed apart (`_Labels`); `map_layout` measures where everything went. Pure: data
in, PNG bytes out (matplotlib's Agg backend, no tile server).

The projection is equirectangular with the aspect corrected by cos(latitude): at this scale
(tens of kilometres) distances are true to within a fraction of a percent.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from bot.core.i18n import N_, Translator, translator
from bot.core.models import Place, ResourceType, Site, SiteKind
from bot.core.vocabulary import KIND, TYPE
from bot.geo.gazetteer import places

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Annotation

KM_PER_DEGREE = 111.195
WIDTH_PX, HEIGHT_PX, DPI = 1000, 800, 100  # the map's panel; the legend goes below it
# the axes in the map's panel (left, bottom, width, height in pixels), room for tick labels
_AXES_PX = (60, 56, 920, 680)
_UNDER_AXES_PX = 30  # from the axes' lower edge to the legend: the tick labels, a gap
_FOOTER_PX = 18  # under the legend: the attribution
_MARGIN_PX = 10
_BACKGROUND = "#f4f1ea"
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
    lat: float
    lon: float
    committed: bool


@dataclass(frozen=True)
class MapMark:
    """Where a located timeline entry was shared (a shared location), numbered as in the
    timeline, with who shared it."""

    number: int
    who: str
    lat: float
    lon: float

    @property
    def label(self) -> str:
        return f"{self.number}. {self.who}"


@dataclass(frozen=True)
class MapData:
    ref: int
    title: str
    lat: float
    lon: float
    units: Sequence[MapUnit] = ()
    sites: Sequence[Site] = ()
    when: str = ""  # already formatted for the reader
    marks: Sequence[MapMark] = ()


MARK_COLOUR = "#00796b"


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
    points += [(m.lat, m.lon, 0.0) for m in data.marks]
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


@dataclass(frozen=True)
class Box:
    """A rectangle in the picture's pixels, origin at the bottom left."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlap(self, other: Box) -> float:
        """The area the two boxes share (0 when they only touch)."""
        dx = min(self.x1, other.x1) - max(self.x0, other.x0)
        dy = min(self.y1, other.y1) - max(self.y0, other.y0)
        return dx * dy if dx > 0 and dy > 0 else 0.0

    def within(self, other: Box) -> bool:
        return (
            self.x0 >= other.x0
            and self.y0 >= other.y0
            and self.x1 <= other.x1
            and self.y1 <= other.y1
        )

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class MapLayout:
    """Where things ended up on the picture, measured on the drawn figure (pixels)."""

    width: int
    height: int
    map_box: Box  # the map, with its tick labels and its subtitle
    legend_box: Box
    legend: tuple[str, ...]  # the legend's entries, top to bottom, column by column
    unit_labels: Mapping[str, Box]  # unit code → its label
    other_labels: Mapping[str, Box]  # site and town names shown → their label
    mark_labels: Mapping[str, Box]  # the timeline's located entries ("3. Jan Peeters") → label


def _say(
    translators: Sequence[Translator],
    message: str,
    words: Mapping[str, str] | None = None,
    **values: object,
) -> str:
    """`message` once in each language of the chat, joined with " / ": each language's text
    whole, with `words` (msgids) translated into that same language."""
    texts: list[str] = []
    for tr in translators:
        fields = {key: tr.gettext(msgid) for key, msgid in (words or {}).items()}
        text = tr.gettext(message).format(**fields, **values)
        if text not in texts:
            texts.append(text)
    return " / ".join(texts)


def _type_msgid(code: str) -> str:
    """The roster's word for a unit type (an unknown type reads as its code)."""
    try:
        return TYPE[ResourceType(code)]
    except ValueError:
        return code.replace("_", " ")


# Label placement: around its point, on rings further and further out, in this order of
# directions (right, up-right, up, …); the first spot that hides no marker, no other label and
# no other label's line, and stays on the map, wins. A label set apart from its point (past
# the first ring) is tied to it by a thin line, which crosses no other label when it can (a
# halo keeps the words readable when it must). Deterministic, no dependency.
_DIRECTIONS = tuple(
    (math.cos(math.radians(a)), math.sin(math.radians(a))) for a in range(0, 360, 45)
)
# further out, twice as many: the nearest free spot is usually between two of the first ones
_MORE_DIRECTIONS = tuple(
    (math.cos(math.radians(a / 2)), math.sin(math.radians(a / 2))) for a in range(0, 720, 45)
)
_RINGS = 12
_PAD_PX = 2.0  # labels keep this far apart


def _candidates(
    x: float, y: float, width: float, height: float, gap: float, rings: int
) -> list[tuple[Box, int]]:
    """Spots (and their ring) for a label of this size around (x, y), nearest first: the box
    touches the circle of each ring on the side of the direction (left edge when to the
    right, …)."""
    spots: list[tuple[Box, int]] = []
    for ring in range(rings):
        radius = gap + ring * (height + 2)
        for cx, cy in _DIRECTIONS if ring == 0 else _MORE_DIRECTIONS:
            px, py = x + radius * cx, y + radius * cy
            left = px if cx > 0.3 else px - width if cx < -0.3 else px - width / 2
            bottom = py if cy > 0.3 else py - height if cy < -0.3 else py - height / 2
            spots.append((Box(left, bottom, left + width, bottom + height), ring))
    return spots


def _crosses(a: tuple[float, float], b: tuple[float, float], box: Box) -> bool:
    """Whether the segment a–b passes through the inside of the box (Liang–Barsky)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    low, high = 0.0, 1.0
    for p, q in (
        (-dx, a[0] - box.x0),
        (dx, box.x1 - a[0]),
        (-dy, a[1] - box.y0),
        (dy, box.y1 - a[1]),
    ):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low >= high:
            return False
    return True


def _corner(box: Box, x: float, y: float) -> tuple[float, float]:
    """The point of the box a line from (x, y) ends at: its nearest corner or side's middle."""
    return (
        box.x0 if box.x0 >= x else box.x1 if box.x1 <= x else (box.x0 + box.x1) / 2,
        box.y0 if box.y0 >= y else box.y1 if box.y1 <= y else (box.y0 + box.y1) / 2,
    )


@dataclass
class _Labels:
    """What is already on the map, in pixels: markers, labels and their lines."""

    area: Box
    markers: list[Box]
    labels: list[Box]
    lines: list[tuple[tuple[float, float], tuple[float, float]]]

    def place(
        self,
        x: float,
        y: float,
        size: tuple[float, float],
        gap: float,
        rings: int,
        must: bool,
    ) -> tuple[Box, tuple[float, float] | None] | None:
        """The first free spot for a label, and the end of its line if it is set apart. A
        label never covers another when a spot is left; its line crosses no other label when
        it can. A label that `must` be shown takes the least covered spot if none is free."""
        best: tuple[float, int, Box, int] | None = None
        for spot, ring in _candidates(x, y, size[0], size[1], gap, rings):
            if not spot.within(self.area):
                continue
            padded = Box(spot.x0 - _PAD_PX, spot.y0 - _PAD_PX, spot.x1 + _PAD_PX, spot.y1 + _PAD_PX)
            covered = sum(padded.overlap(other) for other in (*self.markers, *self.labels))
            covered += sum(
                padded.width * padded.height for a, b in self.lines if _crosses(a, b, padded)
            )
            crossed = 0
            if ring > 0:
                end = _corner(spot, x, y)
                crossed = sum(1 for other in self.labels if _crosses((x, y), end, other))
            if covered == 0 and crossed == 0:
                best = (0.0, 0, spot, ring)
                break
            if (must or covered == 0) and (best is None or (covered, crossed) < best[:2]):
                best = (covered, crossed, spot, ring)
        if best is None:
            return None
        _, _, spot, ring = best
        self.labels.append(spot)
        if ring == 0:
            return spot, None
        end = _corner(spot, x, y)
        self.lines.append(((x, y), end))
        return spot, end


def _marker_box(x: float, y: float, size_pt: float) -> Box:
    half = size_pt * DPI / 72 / 2
    return Box(x - half, y - half, x + half, y + half)


def render_map(data: MapData, languages: Sequence[str]) -> bytes:
    """The map as PNG bytes; every word in each of the chat's `languages`."""
    figure, legend, _ = _draw(data, languages)
    out = io.BytesIO()
    # the legend's words also as PNG text, for systems (and tests) that read no pixels
    figure.savefig(
        out,
        format="png",
        dpi=DPI,
        metadata={
            "Title": str(figure.get_suptitle()),
            "Description": " | ".join(legend),
            "Source": ATTRIBUTION,
            # the numbered marks too: "3. Jan Peeters (50.60710, 3.38940)"
            "Comment": " | ".join(f"{m.label} ({m.lat:.5f}, {m.lon:.5f})" for m in data.marks),
        },
    )
    return out.getvalue()


def map_layout(data: MapData, languages: Sequence[str]) -> MapLayout:
    """Where the legend and the labels go, measured on the figure without making the PNG."""
    return _draw(data, languages)[2]()


def _draw(
    data: MapData, languages: Sequence[str]
) -> tuple[Figure, tuple[str, ...], Callable[[], MapLayout]]:
    """The figure, the legend's entries, and how to measure its layout (on demand: measuring
    the map's tick labels costs as much as drawing them)."""
    # matplotlib takes most of a second to import: loaded with the first map, not at start
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse, Patch
    from matplotlib.patheffects import withStroke
    from matplotlib.text import Text

    translators = [translator(language) for language in languages] or [translator("en")]
    extent = _extent(data)
    lon0, lon1, lat0, lat1 = extent
    cos_lat = math.cos(math.radians(data.lat))
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))  # placed once the legend's height is known
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    ax.set_aspect(1 / cos_lat, adjustable="box")
    ax.set_facecolor(_BACKGROUND)
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
            [],
            [],
            color="#444444",
            linewidth=2,
            linestyle="--",
            label=_say(translators, "France–Belgium border"),
        )
    )

    # (x, y in data, text, colour, font size, marker size in points, zorder, whose) of every
    # label to place, in order of importance: units, then sites, then towns
    labels: list[tuple[float, float, str, str, float, float, int, str]] = []
    markers: list[tuple[float, float, float]] = [(data.lon, data.lat, 20.0)]

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
        markers.append((site.lon, site.lat, 9.0))
        kinds_shown.add(site.kind)
    for kind in sorted(kinds_shown):
        handles.append(
            Patch(
                facecolor=SITE_COLOUR[kind],
                alpha=0.4,
                edgecolor=SITE_COLOUR[kind],
                label=_say(translators, "{kind} (planning radius)", {"kind": KIND[kind]}),
            )
        )

    types_shown: set[tuple[str, bool]] = set()
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
        markers.append((unit.lon, unit.lat, 9.0))
        types_shown.add((unit.type, unit.committed))
    for unit in sorted(data.units, key=lambda u: (not u.committed, u.code)):
        colour = UNIT_STYLE.get(unit.type, ("o", "#7f7f7f"))[1]
        labels.append((unit.lon, unit.lat, unit.code, colour, 6.0, 9.0, 7, "unit"))
    # where located entries of the timeline were shared, numbered as in the timeline
    for mark in data.marks:
        ax.plot(
            mark.lon,
            mark.lat,
            marker="o",
            markersize=7,
            markerfacecolor=MARK_COLOUR,
            markeredgecolor="white",
            markeredgewidth=1.2,
            linestyle="none",
            zorder=7,
        )
        markers.append((mark.lon, mark.lat, 7.0))
        labels.append((mark.lon, mark.lat, mark.label, MARK_COLOUR, 6.5, 7.0, 6, "mark"))
    if data.marks:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="none",
                markersize=7,
                markerfacecolor=MARK_COLOUR,
                markeredgecolor="white",
                label=_say(
                    translators, "Shared location: its number in the timeline, who shared it"
                ),
            )
        )
    for site in data.sites:
        colour = SITE_COLOUR[site.kind]
        labels.append((site.lon, site.lat, site.name, colour, 7.0, 9.0, 5, "site"))
    # committed first, then by the type's name as the chat reads it; each entry whole in
    # each language: "ambulance, disponible / ziekenwagen, beschikbaar"
    for type_, committed in sorted(
        types_shown, key=lambda shown: (not shown[1], _say(translators, _type_msgid(shown[0])))
    ):
        marker, colour = UNIT_STYLE.get(type_, ("o", "#7f7f7f"))
        status = "{type}, committed" if committed else "{type}, available"
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
                label=_say(translators, status, {"type": _type_msgid(type_)}),
            )
        )

    for town in _towns(extent):
        ax.plot(town.lon, town.lat, "o", color="#999999", markersize=3, zorder=3)
        markers.append((town.lon, town.lat, 3.0))
        labels.append((town.lon, town.lat, town.name, "#555555", 7.0, 3.0, 3, "town"))

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
            label=_say(translators, "Incident #{ref}", ref=data.ref),
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
    scale = ax.text(
        x0 + bar_deg / 2,
        y0 + (lat1 - lat0) * 0.012,
        f"{bar_km:g} km",
        ha="center",
        fontsize=9,
        zorder=9,
    )

    title = _say(translators, "Situation map of #{ref}", ref=data.ref) + f" · {data.title}"
    if data.when:
        ax.set_title(data.when, fontsize=8, color="#555555")

    # The legend goes below the map, never on it: as many columns as fit the width, and the
    # picture grows by its height.
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    legend = None
    for columns in (3, 2, 1):
        if legend is not None:
            legend.remove()
        legend = figure.legend(
            handles=handles,
            loc="upper center",
            ncols=min(columns, len(handles)),
            fontsize=8,
            framealpha=1.0,
            columnspacing=1.5,
        )
        if legend.get_window_extent(renderer).width <= WIDTH_PX - 2 * _MARGIN_PX:
            break
    assert legend is not None
    legend_height = legend.get_window_extent(renderer).height
    height = round(HEIGHT_PX - _AXES_PX[1] + _UNDER_AXES_PX + legend_height + _FOOTER_PX)
    figure.set_size_inches(WIDTH_PX / DPI, height / DPI)
    below = height - HEIGHT_PX  # the map's panel keeps its size above the legend
    ax.set_position(
        (
            _AXES_PX[0] / WIDTH_PX,
            (below + _AXES_PX[1]) / height,
            _AXES_PX[2] / WIDTH_PX,
            _AXES_PX[3] / height,
        )
    )
    top = below + _AXES_PX[1] - _UNDER_AXES_PX
    legend.set_bbox_to_anchor((0.5, top / height), figure.transFigure)
    heading = figure.suptitle(
        title[:160], fontsize=12, fontweight="bold", y=1 - 8 / height, va="top"
    )
    wide, room = heading.get_window_extent(renderer).width, WIDTH_PX - 4 * _MARGIN_PX
    if wide > room:  # a long title in two languages: smaller, not cut
        heading.set_fontsize(max(7.0, 12 * room / wide))
    figure.text(0.99, 3 / height, ATTRIBUTION, ha="right", fontsize=6, color="#777777")

    # labels, placed apart once the map's scale on the picture is fixed
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    ax.apply_aspect()
    to_pixels = ax.transData
    area = Box(*ax.get_window_extent(renderer).extents)
    placer = _Labels(area, [], [], [])
    for lon, lat, size in markers:
        x, y = to_pixels.transform((lon, lat))
        placer.markers.append(_marker_box(x, y, size))
    placer.markers.append(Box(*scale.get_window_extent(renderer).extents))
    scale_bar = to_pixels.transform([(x0, y0), (x0 + bar_deg, y0)])
    placer.markers.append(
        Box(scale_bar[0][0], scale_bar[0][1] - 3, scale_bar[1][0], scale_bar[1][1] + 3)
    )
    placed: list[tuple[str, str, Annotation]] = []
    halo = [withStroke(linewidth=2.5, foreground=_BACKGROUND)]
    for lon, lat, text, colour, fontsize, marker_pt, zorder, whose in labels:
        x, y = to_pixels.transform((lon, lat))
        style = {"fontsize": fontsize, "color": colour, "zorder": zorder + 0.5}
        sample = ax.text(0, 0, text, **style)  # type: ignore[arg-type]
        measured = sample.get_window_extent(renderer)
        sample.remove()
        gap = marker_pt * DPI / 72 / 2 + 2
        # a town's name goes next to its dot or not at all: units and sites come first
        must = whose != "town"
        rings = _RINGS if must else 2
        spot = placer.place(x, y, (measured.width, measured.height), gap, rings, must)
        if spot is None:
            continue
        box, end = spot
        artist = ax.annotate(
            text,
            (lon, lat),
            xytext=((box.x0 - x) * 72 / DPI, (box.y0 - y) * 72 / DPI),
            textcoords="offset points",
            ha="left",
            va="bottom",
            path_effects=halo,  # a line that has to cross it stays under the words
            **style,  # type: ignore[arg-type]
        )
        if end is not None:  # set apart: a thin line from its point
            end_lon, end_lat = to_pixels.inverted().transform(end)
            ax.plot([lon, end_lon], [lat, end_lat], color=colour, linewidth=0.6, zorder=zorder)
        placed.append((whose, text, artist))

    words = tuple(str(h.get_label()) for h in handles)

    def measure() -> MapLayout:
        unit_labels: dict[str, Box] = {}
        other_labels: dict[str, Box] = {}
        mark_labels: dict[str, Box] = {}
        for whose, text, artist in placed:
            artist.update_positions(renderer)
            box = Box(*Text.get_window_extent(artist, renderer).extents)  # the words, as drawn
            kept = {"unit": unit_labels, "mark": mark_labels}.get(whose, other_labels)
            kept[text] = box
        map_box = ax.get_tightbbox(renderer) or ax.get_window_extent(renderer)
        return MapLayout(
            width=WIDTH_PX,
            height=height,
            map_box=Box(*map_box.extents),
            legend_box=Box(*legend.get_window_extent(renderer).extents),
            legend=words,
            unit_labels=unit_labels,
            other_labels=other_labels,
            mark_labels=mark_labels,
        )

    return figure, words, measure


# translated where the map is drawn
_WORDS = (
    N_("France–Belgium border"),
    N_("{kind} (planning radius)"),
    N_("{type}, committed"),
    N_("{type}, available"),
    N_("Incident #{ref}"),
    N_("Situation map of #{ref}"),
    N_("Shared location: its number in the timeline, who shared it"),
)
