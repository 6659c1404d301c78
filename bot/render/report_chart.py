"""The after-action report's chart of the incident over time: each country's phases, each
committed unit's path (committed → en route → on scene → released) as a bar, alerts and
statements as marks on one time axis. Inline SVG drawn here, offline, in the report's one
file; with its text equivalent (the same facts in words) for screen readers and for anyone.

The SVG has no viewBox: its width is the page's, x positions are percentages of it and
heights are pixels, so that its text keeps its size on a 390 px phone as on a desktop."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape as _escape
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.core.i18n import Translator
from bot.core.models import Country, Level, OfferStatus, Report, UnitLine
from bot.core.vocabulary import LADDER, OFFER_STATUS, PHASE
from bot.render import common

# the path's three stretches, light to dark (each ≥ 3:1 against white: WCAG 1.4.11)
STRETCH_COLOURS = {
    OfferStatus.COMMITTED: "#6c8ebf",
    OfferStatus.EN_ROUTE: "#2f6db5",
    OfferStatus.ON_SCENE: "#173f73",
}
# a country's levels, from the first to the highest
LEVEL_COLOURS = ("#c98a1b", "#c4621c", "#a8361a", "#7d1d12", "#4e0f0a")
ALERT_COLOUR = "#b3141b"
STATEMENT_COLOUR = "#1d6b3a"
LEFT, RIGHT = 1.0, 99.0  # the time axis, in percent of the width
ROW = 14  # a label's line, in px
BAR = 12
STEPS_MIN = (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)
MAX_TICKS = 5  # time labels that fit side by side on a phone
UNITS_PER_PART = 16  # units in one SVG: one printed page at most


def _attr(value: str) -> str:
    return _escape(value, quote=True)


def _text(value: str) -> str:
    return _escape(value, quote=False)


@dataclass(frozen=True)
class _Axis:
    start: datetime
    end: datetime

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (moment - self.start).total_seconds() / span
        return LEFT + (RIGHT - LEFT) * min(max(share, 0.0), 1.0)

    def width(self, a: datetime, b: datetime) -> float:
        return max(self.x(b) - self.x(a), 0.4)  # an instant still shows


def _span(report: Report) -> tuple[datetime, datetime]:
    incident = report.incident
    end = incident.closed_at or report.generated_at
    moments = [incident.declared_at, end]
    for unit in _units(report):
        moments += [m for m in _path_moments(unit) if m is not None]
    moments += [a.sent_at for a in report.alerts]
    moments += [s.published_at for s in report.statements if s.published_at]
    start, stop = min(moments), max(moments)
    if stop - start < timedelta(minutes=10):
        stop = start + timedelta(minutes=10)
    return start, stop


def _ticks(start: datetime, end: datetime, timezone: str) -> list[datetime]:
    """Round local times (10:00, 10:30 …), at most MAX_TICKS of them."""
    zone = ZoneInfo(timezone)
    span_min = (end - start).total_seconds() / 60
    step = next((s for s in STEPS_MIN if span_min / s <= MAX_TICKS), STEPS_MIN[-1])
    local = start.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    passed = (local - midnight).total_seconds() / 60
    tick = midnight + timedelta(minutes=math.ceil(passed / step) * step)
    ticks = []
    while tick.astimezone(UTC) <= end:
        ticks.append(tick.astimezone(UTC))
        # local steps: a change of hour does not shift the round times
        tick = (tick.replace(tzinfo=None) + timedelta(minutes=step)).replace(tzinfo=zone)
    return ticks


def _units(report: Report) -> list[UnitLine]:
    return [u for r in report.requests for u in r.units if u.committed_at is not None]


def _path_moments(unit: UnitLine) -> tuple[datetime | None, ...]:
    return (unit.committed_at, unit.en_route_at, unit.on_scene_at, unit.released_at)


def _stretches(unit: UnitLine, end: datetime) -> list[tuple[OfferStatus, datetime, datetime]]:
    """committed → en route → on scene → released, each stretch until the next known moment
    (a unit never released ends with the incident, or with the report)."""
    marks = [
        (OfferStatus.COMMITTED, unit.committed_at),
        (OfferStatus.EN_ROUTE, unit.en_route_at),
        (OfferStatus.ON_SCENE, unit.on_scene_at),
    ]
    known = [(status, moment) for status, moment in marks if moment is not None]
    stop = unit.released_at or end
    found = []
    for index, (status, moment) in enumerate(known):
        until = known[index + 1][1] if index + 1 < len(known) else stop
        found.append((status, moment, max(until, moment)))
    return found


def _level_colour(country: Country, level: Level) -> str:
    ladder = LADDER.get(country, ())
    rank = ladder.index(level) if level in ladder else 0
    return LEVEL_COLOURS[min(rank, len(LEVEL_COLOURS) - 1)]


def _tick_label(tr: Translator, moment: datetime, timezone: str, with_date: bool) -> str:
    time = tr.time(moment, timezone)
    if not with_date:
        return time
    day = format_date(moment.astimezone(ZoneInfo(timezone)), "d MMM", locale=tr.locale)
    return f"{day} {time}"


def _short(value: str, limit: int = 28) -> str:
    """An agency's name on one line of a phone (the chart in words has it whole)."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _anchor(x: float) -> str:
    return "start" if x < 8 else "end" if x > 92 else "middle"


def chart(tr: Translator, report: Report, timezone: str, key: str) -> str:
    """The chart as a <figure>: the SVG (named and described for screen readers) and the
    same facts in words below it. `key` makes its ids unique in the document. Many units
    make several SVGs, each with its time axis, so that each fits on a printed page."""
    _ = tr.gettext
    start, end = _span(report)
    axis = _Axis(start, end)
    units = _units(report)
    chunks = [units[i : i + UNITS_PER_PART] for i in range(0, len(units), UNITS_PER_PART)]
    chunks = chunks or [[]]
    title = _("The incident over time")
    words = in_words(tr, report, timezone)
    svgs = []
    for index, chunk in enumerate(chunks):
        first, last = index == 0, index == len(chunks) - 1
        parts: list[str] = []
        y = _legend(tr, parts, 0) if first else 0
        ticks = _ticks(start, end, timezone)
        _axis_labels(tr, parts, axis, ticks, timezone, y)
        y += ROW + 4
        top = y
        if first:
            y = _phases(tr, parts, axis, report, y)
        y = _paths(tr, parts, axis, report, chunk, y)
        if last:
            y = _marks(parts, axis, report, y)
        grid = _grid(axis, ticks, report, top, y)
        if first:
            title_id, desc_id = f"chart-{key}-title", f"chart-{key}-desc"
            named = (
                f'role="img" aria-labelledby="{title_id}" aria-describedby="{desc_id}">'
                f'<title id="{title_id}">{_text(title)}</title>'
                f'<desc id="{desc_id}">{_text(" ".join(words))}</desc>'
            )
        else:  # the first one's description covers them all
            named = 'aria-hidden="true">'
        svgs.append(
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="100%" height="{y}" '
            + named
            + "".join(grid)
            + "".join(parts)
            + "</svg>"
        )
    listed = "".join(f"<li>{_text(line)}</li>" for line in words)
    summary = _text(_("The chart in words"))
    return (
        f'<figure class="chart">{"".join(svgs)}<details><summary>{summary}</summary>'
        f"<ul>{listed}</ul></details></figure>"
    )


def _legend(tr: Translator, parts: list[str], y: int) -> int:
    """The legend, two signs a line: a phone has no room beside the bars."""
    _ = tr.gettext
    legend = [
        (STRETCH_COLOURS[s], _(OFFER_STATUS[s]), "rect")
        for s in (OfferStatus.COMMITTED, OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE)
    ] + [(ALERT_COLOUR, _("Alerts"), "alert"), (STATEMENT_COLOUR, _("Statements"), "statement")]
    for index, (colour, label, shape) in enumerate(legend):
        column, line = index % 2, index // 2
        x = LEFT + column * 50
        top = y + line * (ROW + 4)
        parts.append(
            f'<svg x="{x:.2f}%" y="{top}" width="14" height="{ROW}" overflow="visible">'
            + _shape(shape, colour, 6, 2, 10)
            + "</svg>"
        )
        parts.append(f'<text x="{x:.2f}%" dx="16" y="{top + 11}" class="t">{_text(label)}</text>')
    return y + 3 * (ROW + 4) + 4


def _axis_labels(
    tr: Translator, parts: list[str], axis: _Axis, ticks: list[datetime], timezone: str, y: int
) -> None:
    """Round local times along the top, with the date where a day begins."""
    last_day = None
    for tick in ticks:
        x = axis.x(tick)
        day = tick.astimezone(ZoneInfo(timezone)).date()
        label = _tick_label(tr, tick, timezone, last_day is not None and day != last_day)
        last_day = day
        parts.append(
            f'<text x="{x:.2f}%" y="{y + 11}" text-anchor="{_anchor(x)}" class="t">'
            f"{_text(label)}</text>"
        )


def _phases(tr: Translator, parts: list[str], axis: _Axis, report: Report, y: int) -> int:
    """Each country's levels as one bar, darker as it rises, each level named under it."""
    _ = tr.gettext
    close = report.incident.closed_at or report.generated_at
    for country in _ordered(p.country for p in report.phases):
        parts.append(
            f'<text x="{LEFT}%" y="{y + 11}" class="t b">'
            f"{_text(common.country_name(tr, country))}</text>"
        )
        y += ROW + 2
        periods = [p for p in report.phases if p.country is country]
        for index, period in enumerate(periods):
            until = period.ended_at or close
            x, w = axis.x(period.started_at), axis.width(period.started_at, until)
            name = _(PHASE[(period.country, period.level)])
            parts.append(
                f'<rect x="{x:.2f}%" y="{y}" width="{w:.2f}%" height="{BAR}" '
                f'fill="{_level_colour(country, period.level)}"><title>{_text(name)}</title></rect>'
            )
            # on one of two lines so neighbours do not meet; from its start, or up to its
            # end when it starts on the right half
            line = y + BAR + 11 + (index % 2) * ROW
            at, anchor = (x, "start") if x < 50 else (x + w, "end")
            parts.append(
                f'<text x="{at:.2f}%" y="{line}" text-anchor="{anchor}" class="t s">'
                f"{_text(name)}</text>"
            )
        y += BAR + 2 * ROW + 6
    return y


def _paths(
    tr: Translator,
    parts: list[str],
    axis: _Axis,
    report: Report,
    units: Sequence[UnitLine],
    y: int,
) -> int:
    """Each committed unit's path: its name on a line, its bar under it."""
    _ = tr.gettext
    close = report.incident.closed_at or report.generated_at
    for unit in units:
        parts.append(
            f'<text x="{LEFT}%" y="{y + 11}" class="t">'
            f'<tspan class="b">{_text(unit.code)}</tspan> · {_text(_short(unit.agency))}</text>'
        )
        y += ROW + 2
        for status, a, b in _stretches(unit, close):
            parts.append(
                f'<rect x="{axis.x(a):.2f}%" y="{y}" width="{axis.width(a, b):.2f}%" '
                f'height="{BAR}" fill="{STRETCH_COLOURS[status]}">'
                f"<title>{_text(_(OFFER_STATUS[status]))}</title></rect>"
            )
        y += BAR + 8
    return y


def _marks(parts: list[str], axis: _Axis, report: Report, y: int) -> int:
    """Alerts and statements as signs on two alternating lines, their numbers beside them."""
    marks = [("alert", ALERT_COLOUR, a.sent_at, f"#{a.id}") for a in report.alerts] + [
        ("statement", STATEMENT_COLOUR, s.published_at, f"#{s.id}")
        for s in report.statements
        if s.published_at is not None
    ]
    if not marks:
        return y
    for index, (shape, colour, moment, label) in enumerate(sorted(marks, key=lambda m: m[2])):
        x = axis.x(moment)
        line = y + (index % 2) * (ROW + 2)
        parts.append(
            f'<svg x="{x:.2f}%" y="{line}" width="1" height="{ROW}" overflow="visible">'
            + _shape(shape, colour, 0, 1, 11)
            + "</svg>"
        )
        right = x > 92
        parts.append(
            f'<text x="{x:.2f}%" dx="{-8 if right else 8}" y="{line + 11}" '
            f'text-anchor="{"end" if right else "start"}" class="t s">{_text(label)}</text>'
        )
    return y + 2 * (ROW + 2) + 4


def _grid(axis: _Axis, ticks: list[datetime], report: Report, top: int, bottom: int) -> list[str]:
    """A thin line at each round time; the close as a dashed one."""
    grid = [
        f'<line x1="{axis.x(t):.2f}%" x2="{axis.x(t):.2f}%" y1="{top - 2}" y2="{bottom}" '
        'stroke="#d0d0d0" stroke-width="1"/>'
        for t in ticks
    ]
    if report.incident.closed_at is not None:
        x = axis.x(report.incident.closed_at)
        grid.append(
            f'<line x1="{x:.2f}%" x2="{x:.2f}%" y1="{top - 2}" y2="{bottom}" '
            'stroke="#1b1b1b" stroke-width="1" stroke-dasharray="3 2"/>'
        )
    return grid


def _shape(shape: str, colour: str, cx: float, top: float, size: float) -> str:
    """A legend's or a mark's sign: a bar's swatch, an alert's triangle, a statement's
    diamond (drawn, not a character of a font the machine may lack)."""
    half = size / 2
    if shape == "alert":
        points = f"{cx - half},{top + size} {cx},{top} {cx + half},{top + size}"
    elif shape == "statement":
        points = f"{cx},{top} {cx + half},{top + half} {cx},{top + size} {cx - half},{top + half}"
    else:
        return f'<rect x="{cx - half}" y="{top}" width="{size}" height="{size}" fill="{colour}"/>'
    return f'<polygon points="{points}" fill="{colour}"/>'


def in_words(tr: Translator, report: Report, timezone: str) -> list[str]:
    """What the chart shows, one line per country, per unit and for the marks."""
    _ = tr.gettext
    close = report.incident.closed_at or report.generated_at

    def when(moment: datetime) -> str:
        return tr.datetime(moment, timezone)

    lines: list[str] = []
    for country in _ordered(p.country for p in report.phases):
        periods = [
            _("{phase} from {start} to {end}").format(
                phase=_(PHASE[(p.country, p.level)]),
                start=when(p.started_at),
                end=when(p.ended_at or close),
            )
            if p.ended_at or report.incident.closed_at
            else _("{phase} since {start}").format(
                phase=_(PHASE[(p.country, p.level)]), start=when(p.started_at)
            )
            for p in report.phases
            if p.country is country
        ]
        lines.append(
            _("{name}: {facts}.").format(
                name=common.country_name(tr, country), facts="; ".join(periods)
            )
        )
    for unit in _units(report):
        steps = [
            (OfferStatus.COMMITTED, unit.committed_at),
            (OfferStatus.EN_ROUTE, unit.en_route_at),
            (OfferStatus.ON_SCENE, unit.on_scene_at),
            (OfferStatus.RELEASED, unit.released_at),
        ]
        said = [
            _("{what} at {time}").format(what=_(OFFER_STATUS[s]), time=when(m))
            for s, m in steps
            if m is not None
        ]
        lines.append(
            _("{name}: {facts}.").format(name=f"{unit.code} ({unit.agency})", facts=", ".join(said))
        )
    marks = [(a.sent_at, _("Alert #{id}").format(id=a.id)) for a in report.alerts] + [
        (s.published_at, _("Statement #{id}").format(id=s.id))
        for s in report.statements
        if s.published_at is not None
    ]
    if marks:
        lines.append(
            "; ".join(
                _("{what} at {time}").format(what=what, time=when(moment))
                for moment, what in sorted(marks, key=lambda m: m[0])
            )
            + "."
        )
    return lines


def _ordered(countries: Iterable[Country]) -> Sequence[Country]:
    found: list[Country] = []
    for country in countries:
        if country not in found:
            found.append(country)
    return found
