"""The report's chart of the incident over time (issue 13, item 3): each unit's path committed →
en route → on scene → released as a bar, each country's phases, alerts and statements as marks,
drawn as inline SVG in the one file, with its text equivalent. Its look on a phone and in print
is checked in tests/test_report_browser.py."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.i18n import translator
from bot.core.models import OfferStatus
from bot.render.report import render_report
from bot.render.report_chart import (
    ALERT_COLOUR,
    STATEMENT_COLOUR,
    STRETCH_COLOURS,
    UNITS_PER_PART,
    _Axis,
    _stretches,
    _ticks,
    chart,
    in_words,
)
from tests.test_reports_reading import _at, _unit, sample_report

FR = translator("fr")
NL = translator("nl")
EN = translator("en")


def _svgs(html: str) -> list[str]:
    return re.findall(r'<svg class="chart".*?</svg>(?=<svg class="chart"|<details>)', html, re.S)


def test_each_units_path_is_a_bar_of_its_stretches() -> None:
    report = sample_report()
    close = _at(300)
    french, belgian, ambulance = report.requests[0].units
    assert _stretches(french, close) == [
        (OfferStatus.COMMITTED, _at(9), _at(10)),
        (OfferStatus.EN_ROUTE, _at(10), _at(29)),
        (OfferStatus.ON_SCENE, _at(29), _at(250)),  # released at 250
    ]
    # never released: on scene until the incident closed
    assert _stretches(ambulance, close)[-1] == (OfferStatus.ON_SCENE, _at(18), close)
    # committed, never en route: committed until on scene
    skipped = replace(belgian, en_route_at=None)
    assert [s for s, _, _ in _stretches(skipped, close)] == [
        OfferStatus.COMMITTED,
        OfferStatus.ON_SCENE,
    ]
    html = chart(EN, report, "UTC", "en")
    (svg,) = _svgs(html)
    # 4 units × 3 stretches, in the stretch colours, each named for a pointer's hover
    bars = re.findall(r'<rect [^>]*fill="(#\w+)"><title>([^<]+)</title>', svg)
    stretches = [b for b in bars if b[0] in STRETCH_COLOURS.values()]
    assert len(stretches) == 12
    assert {t for _, t in stretches} == {"committed", "en route", "on scene"}
    # the French engine's on-scene bar starts at 29 min and ends at 250 min, on a 0-300 axis
    axis = _Axis(_at(0), _at(300))
    expected = f'x="{axis.x(_at(29)):.2f}%" y="[0-9]+" width="{axis.width(_at(29), _at(250)):.2f}%"'
    assert re.search(expected, svg)
    for unit in ("FR-SDIS59-FPT-1", "BE-WAPI-FPT-1", "BE-WAPI-AMB-3", "BE-FLUVIA-CHEM-1"):
        assert unit in svg


def test_phases_per_country_and_marks_for_alerts_and_statements() -> None:
    html = chart(FR, sample_report(), "Europe/Brussels", "fr")
    (svg,) = _svgs(html)
    for label in ("Belgique", "France", FR.gettext("provincial phase")):
        assert label in svg
    assert FR.gettext("departmental level") in svg
    # the two alerts as triangles, the statement as a diamond, with their numbers
    assert svg.count(f'<polygon points="-5.5,12 0,1 5.5,12" fill="{ALERT_COLOUR}"/>') == 2
    assert svg.count(f'fill="{STATEMENT_COLOUR}"/>') == 2  # the legend's and the mark's
    for number in ("#3", "#4", "#1"):
        assert f">{number}</text>" in svg
    # time labels: round local hours (UTC+1 in March), at most five
    labels = re.findall(r'class="t">(\d\d:\d\d)</text>', svg)
    assert labels == ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00"][: len(labels)]
    assert 3 <= len(labels) <= 6


def test_the_chart_has_a_text_equivalent_in_each_language() -> None:
    report = sample_report()
    html = render_report(report, ("fr", "nl"), "Europe/Brussels")
    # named and described for a screen reader, ids unique in the bilingual file
    for lang in ("fr", "nl"):
        assert (
            f'role="img" aria-labelledby="chart-{lang}-title" aria-describedby="chart-{lang}-desc"'
            in html
        )
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    words = in_words(FR, report, "Europe/Brussels")
    when = FR.datetime
    phase = FR.gettext("{phase} from {start} to {end}")
    assert words[0] == FR.gettext("{name}: {facts}.").format(
        name="Belgique",
        facts=phase.format(
            phase=FR.gettext("communal phase"),
            start=when(_at(0), "Europe/Brussels"),
            end=when(_at(30), "Europe/Brussels"),
        )
        + "; "
        + phase.format(
            phase=FR.gettext("provincial phase"),
            start=when(_at(30), "Europe/Brussels"),
            end=when(_at(300), "Europe/Brussels"),
        ),
    )
    french = next(w for w in words if w.startswith("FR-SDIS59-FPT-1"))
    for status, minutes in (
        ("committed", 9),
        ("en route", 10),
        ("on scene", 29),
        ("released", 250),
    ):
        assert (
            FR.gettext("{what} at {time}").format(
                what=FR.gettext(status), time=when(_at(minutes), "Europe/Brussels")
            )
            in french
        )
    assert FR.gettext("Alert #{id}").format(id=3) in words[-1]
    assert FR.gettext("Statement #{id}").format(id=1) in words[-1]
    # the same words, visible to anyone under the chart, and in Dutch in the Dutch section
    dutch = in_words(NL, report, "Europe/Brussels")
    assert all(f"<li>{w}</li>" in html or "&" in w for w in dutch)
    assert NL.gettext("The chart in words") in html and FR.gettext("The chart in words") in html


def test_an_incident_over_midnight_dates_its_time_labels() -> None:
    start = datetime(2026, 3, 14, 20, 0, tzinfo=UTC)
    ticks = _ticks(start, start + timedelta(hours=14), "Europe/Brussels")
    assert 2 <= len(ticks) <= 5
    long = replace(
        sample_report(),
        incident=sample_report().incident.model_copy(
            update={"declared_at": start, "closed_at": start + timedelta(hours=14)}
        ),
        requests=(),
        alerts=(),
        statements=(),
        phases=(),
    )
    (svg,) = _svgs(chart(FR, long, "Europe/Brussels", "fr"))
    # the first label of a new day carries its date
    assert re.search(r'class="t">15 mars \d\d:\d\d</text>', svg)


def test_many_units_make_parts_that_each_fit_a_page() -> None:
    report = sample_report()
    many = tuple(
        _unit(f"BE-WAPI-AMB-{n:02d}", "ZS WAPI", "BE", 60, (62, 63, 80), 9) for n in range(40)
    )
    report = replace(report, requests=(replace(report.requests[1], units=many),))
    svgs = _svgs(chart(EN, report, "UTC", "en"))
    assert len(svgs) == -(-40 // UNITS_PER_PART)
    for svg in svgs:
        assert int(re.search(r'height="(\d+)"', svg).group(1)) < 1000  # type: ignore[union-attr]
        assert ">09:00</text>" in svg or ">10:00</text>" in svg  # each with its time axis
    assert 'role="img"' in svgs[0] and all('aria-hidden="true"' in s for s in svgs[1:])
    assert sum(s.count('<tspan class="b">BE-WAPI-AMB-') for s in svgs) == 40


def test_the_chart_loads_nothing() -> None:
    html = render_report(sample_report(), ("en",), "UTC")
    svg = html.split('<figure class="chart">')[1].split("</figure>")[0]
    assert "href" not in svg and "<image" not in svg and "url(" not in svg
