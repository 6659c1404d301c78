"""The board's map (bot/board/static/map.js) in a real browser, on a fixture page: features
drawn where Web Mercator puts them, pan and zoom by keys, wheel and buttons, labels apart,
nothing fetched but the board's own files; and the geo JSON it draws from (bot/board/geo.py).

Headless Chromium as in tests/test_report_browser.py: Debian's, driven by Playwright; without
CI set, a missing piece skips these tests with its reason; with CI set, it fails them. The
page's origin (http://board.test) is served by the test itself (page.route): any other
request is refused and recorded.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from bot.board.geo import MAP_WORDS, geo_json
from bot.core.i18n import translator
from bot.geo.maps import border
from tests.browser import missing

STATIC = Path(__file__).resolve().parent.parent / "bot" / "board" / "static"
ORIGIN = "http://board.test"
TILES = "http://tiles.test/{z}/{x}/{y}.png"
# a 1 x 1 transparent PNG
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)

INCIDENT = {"ref": 7, "title": "Feu d'entrepôt à Comines", "lat": 50.770, "lon": 3.000}
DETAIL: dict[str, Any] = {
    "incident": INCIDENT,
    "units": [
        {
            "code": "FR-SDIS59-FPT-1",
            "name": "FPT Armentières",
            "agency": "SDIS 59",
            "country": "FR",
            "status": "en_route",
            "lat": 50.688,
            "lon": 2.880,
            "eta_minutes": 18,
            "path": {},
        },
        {
            "code": "BE-WAPI-AMB-2",
            "name": "Ambulance Comines",
            "agency": "Zone Wallonie picarde",
            "country": "BE",
            "status": "on_scene",
            "lat": 50.765,
            "lon": 3.020,
            "eta_minutes": None,
            "path": {},
        },
    ],
    "nearest": [
        {
            "code": "BE-WAPI-AMB-9",
            "name": "Ambulance Mouscron",
            "agency": "Zone Wallonie picarde",
            "country": "BE",
            "lat": 50.744,
            "lon": 3.214,
            "distance_km": 15.4,
        }
    ],
    "sites": [
        {"name": "Dépôt (SAMPLE)", "lat": 50.800, "lon": 3.060, "radius_km": 2.0, "hazards": []}
    ],
    "timeline": [
        {
            "n": 4,
            "at": "2026-11-30T17:00:00Z",
            "author": "Jan",
            "kind": "location",
            "text": "",
            "lat": 50.776,
            "lon": 2.990,
            "media": [],
        },
        {
            "n": 2,
            "at": "2026-11-30T16:00:00Z",
            "author": "Marie",
            "kind": "note",
            "text": "no place",
            "lat": None,
            "lon": None,
            "media": [],
        },
    ],
    "version": 1,
}


def _focus_rules() -> str:
    """The map's focus rules as the board's stylesheet gives them (map.js writes no style:
    the board's Content-Security-Policy would refuse it)."""
    css = (STATIC / "board.css").read_text(encoding="utf-8")
    rules = [line for line in css.splitlines() if line.startswith(".pmap")]
    assert rules, "board.css styles the map's focus"
    return "\n".join(rules).replace("var(--focus)", "#005fcc")


FOCUS_RULES = _focus_rules()


def _fixture_html(
    detail: dict[str, Any], options: dict[str, Any], width: int, height: int, font: int = 14
) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>map</title>
<style>body {{ margin: 0 }} svg {{ width: {width}px; height: {height}px; display: block;
font-size: {font}px }}
{FOCUS_RULES}</style></head>
<body><svg id="map"></svg>
<script type="module">
import {{ drawMap, updateMap, mapOf, project }} from "/board/static/map.js";
const geo = await (await fetch("/board/api/geo")).json();
const options = {json.dumps(options)};
const strings = options.strings || {{}};
options.t = (msgid) => strings[msgid] || msgid;
window.selected = [];
options.onSelect = (feature) => window.selected.push(feature.unit.code);
window.map = drawMap(document.getElementById("map"), geo, {json.dumps(detail)}, options);
window.mapjs = {{ drawMap, updateMap, mapOf, project }};
window.ready = true;
</script></body></html>"""


class Board:
    """A page on the fixture origin, with what it asked for."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.refused: list[str] = []


def _open(
    browser: Any,
    detail: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    tiles_url: str = "",
    size: tuple[int, int] = (800, 600),
    font: int = 14,
) -> Board:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    board = Board(page)
    html = _fixture_html(DETAIL if detail is None else detail, options or {}, *size, font)

    def serve(route: Any) -> None:
        url = route.request.url
        board.requests.append(url)
        path = url.removeprefix(ORIGIN)
        if path == "/fixture.html":
            route.fulfill(status=200, content_type="text/html", body=html)
        elif path == "/board/api/geo":
            route.fulfill(status=200, content_type="application/json", body=geo_json(tiles_url))
        elif path.startswith("/board/static/") and (STATIC / path.rsplit("/", 1)[1]).is_file():
            body = (STATIC / path.rsplit("/", 1)[1]).read_bytes()
            route.fulfill(status=200, content_type="text/javascript", body=body)
        elif url.startswith("http://tiles.test/"):
            route.fulfill(status=200, content_type="image/png", body=PIXEL)
        else:
            board.refused.append(url)
            route.abort()

    page.route("**/*", serve)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ORIGIN}/fixture.html")
    page.wait_for_function("window.ready === true", timeout=10_000)
    assert errors == []
    return board


def _mercator(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator, the world as 1 x 1 (computed here, apart from map.js)."""
    phi = math.radians(lat)
    return (lon + 180) / 360, (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2


def _expected(
    view: dict[str, float], size: tuple[int, int], lat: float, lon: float
) -> tuple[float, float]:
    """Where a point must be on screen for the map's view (its centre and zoom)."""
    scale = 256 * 2 ** view["zoom"]
    cx, cy = _mercator(view["lat"], view["lon"])
    x, y = _mercator(lat, lon)
    return (x - cx) * scale + size[0] / 2, (y - cy) * scale + size[1] / 2


def _centre(page: Any, selector: str) -> tuple[float, float]:
    box = page.eval_on_selector(
        selector,
        "(e) => { const b = e.getBoundingClientRect(); return [b.x + b.width / 2,"
        " b.y + b.height / 2]; }",
    )
    return box[0], box[1]


def _circle(page: Any, selector: str) -> tuple[float, float, float]:
    found = page.eval_on_selector(
        selector, "(c) => [c.cx.baseVal.value, c.cy.baseVal.value, c.r.baseVal.value]"
    )
    return found[0], found[1], found[2]


# --- in the browser ----------------------------------------------------------------------------


def test_features_are_drawn_where_web_mercator_puts_them(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    view = page.evaluate("map.getView()")
    # the whole view is centred on the incident
    x, y = _expected(view, (800, 600), INCIDENT["lat"], INCIDENT["lon"])
    assert (x, y) == pytest.approx((400, 300), abs=0.5)
    star = _centre(page, ".pmap-incident path")
    assert star == pytest.approx((400, 300), abs=3)
    for unit in DETAIL["units"]:
        cx, cy, _ = _circle(page, f'.pmap-unit[data-code="{unit["code"]}"] circle')
        assert (cx, cy) == pytest.approx(
            _expected(view, (800, 600), unit["lat"], unit["lon"]), abs=0.5
        )
    statuses = page.eval_on_selector_all(".pmap-unit", "(gs) => gs.map(g => g.dataset.status)")
    assert sorted(statuses) == ["en_route", "on_scene"]
    fills = page.eval_on_selector_all(
        ".pmap-unit circle", "(cs) => cs.map(c => c.getAttribute('fill'))"
    )
    assert len(set(fills)) == 2  # two statuses, two colours
    nearest = DETAIL["nearest"][0]
    cx, cy, _ = _circle(page, ".pmap-nearest circle")
    assert (cx, cy) == pytest.approx(
        _expected(view, (800, 600), nearest["lat"], nearest["lon"]), abs=0.5
    )
    # the site's planning radius: 2 km is the distance to a point 2 km north of it
    site = DETAIL["sites"][0]
    cx, cy, r = _circle(page, ".pmap-site circle.pmap-radius")
    north = _expected(view, (800, 600), site["lat"] + 2.0 / 111.195, site["lon"])
    assert r == pytest.approx(math.dist((cx, cy), north), rel=0.01)
    assert r > 5
    # the located timeline entry, numbered as in the timeline; the one without a place is not
    marks = page.eval_on_selector_all(".pmap-mark", "(gs) => gs.map(g => g.textContent)")
    assert len(marks) == 1 and marks[0].startswith("4")
    assert page.eval_on_selector(".pmap-mark text", "(t) => t.textContent") == "4"
    # the border: one path through every point of the file
    d = page.eval_on_selector(".pmap-border-line", "(p) => p.getAttribute('d')")
    assert len(re.findall(r"[ML]", d)) == len(border())
    # labels: the units with status and ETA, the nearest with its distance, towns
    labels = page.eval_on_selector_all(".pmap-label", "(ts) => ts.map(t => t.textContent)")
    assert "FR-SDIS59-FPT-1 · en route · in 18 min" in labels
    assert "BE-WAPI-AMB-2 · on scene" in labels
    assert "BE-WAPI-AMB-9 · 15.4 km" in labels
    assert "#7" in labels
    assert "Dépôt (SAMPLE)" in labels
    towns = page.eval_on_selector_all(".pmap-label-town", "(ts) => ts.map(t => t.textContent)")
    assert "Lille" in towns and "Kortrijk" in towns
    assert 5 <= len(towns) <= 80
    # the legend: folded at this size, opened by its button
    assert page.query_selector(".pmap-legend") is None
    page.click(".pmap-legend-toggle")
    legend = page.eval_on_selector(".pmap-legend", "(g) => g.textContent")
    for words in ("France–Belgium border", "Nearest available unit", "Town"):
        assert words in legend
    assert board.refused == []
    page.close()


def test_pan_and_zoom_by_keys(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    page.focus("#map")
    before = _centre(page, ".pmap-incident path")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(50)
    after = _centre(page, ".pmap-incident path")
    assert after[0] == pytest.approx(before[0] - 80, abs=1) and after[1] == pytest.approx(
        before[1], abs=1
    )
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(50)
    down = _centre(page, ".pmap-incident path")
    assert down[1] == pytest.approx(after[1] - 80, abs=1)

    page.keyboard.press("0")  # back home
    zoom = page.evaluate("map.getView().zoom")
    unit = '.pmap-unit[data-code="BE-WAPI-AMB-2"] circle'
    a, b = _centre(page, ".pmap-incident path"), _circle(page, unit)[:2]
    page.keyboard.press("+")
    page.wait_for_timeout(50)
    assert page.evaluate("map.getView().zoom") == pytest.approx(zoom + 1)
    # zoomed about the centre: the incident stays, the unit is twice as far
    a2, b2 = _centre(page, ".pmap-incident path"), _circle(page, unit)[:2]
    assert a2 == pytest.approx(a, abs=2)
    assert math.dist(a2, b2) == pytest.approx(2 * math.dist(a, b), rel=0.02)
    page.keyboard.press("-")
    page.keyboard.press("-")
    page.wait_for_timeout(50)
    assert page.evaluate("map.getView().zoom") == pytest.approx(zoom - 1)
    page.close()


def test_zoom_by_wheel_keeps_the_point_under_the_pointer(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    unit = '.pmap-unit[data-code="FR-SDIS59-FPT-1"] circle'
    x, y, _ = _circle(page, unit)
    zoom = page.evaluate("map.getView().zoom")
    page.mouse.move(x, y)
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(100)
    assert page.evaluate("map.getView().zoom") > zoom + 0.5
    x2, y2, _ = _circle(page, unit)
    assert (x2, y2) == pytest.approx((x, y), abs=1.5)
    # and out again
    for _ in range(2):
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(100)
    assert page.evaluate("map.getView().zoom") < zoom
    page.close()


def test_drag_and_buttons(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    before = _centre(page, ".pmap-incident path")
    page.mouse.move(300, 400)
    page.mouse.down()
    page.mouse.move(350, 380, steps=5)
    page.mouse.up()
    page.wait_for_timeout(50)
    after = _centre(page, ".pmap-incident path")
    assert after == pytest.approx((before[0] + 50, before[1] - 20), abs=1.5)

    zoom = page.evaluate("map.getView().zoom")
    page.click(".pmap-zoom-in")
    page.wait_for_timeout(50)
    assert page.evaluate("map.getView().zoom") == pytest.approx(zoom + 1)
    page.click(".pmap-zoom-out")
    page.click(".pmap-zoom-out")
    page.wait_for_timeout(50)
    assert page.evaluate("map.getView().zoom") == pytest.approx(zoom - 1)
    # the buttons work from the keyboard too, and keep the focus
    page.focus(".pmap-zoom-in")
    page.keyboard.press("Enter")
    page.wait_for_timeout(50)
    assert page.evaluate("map.getView().zoom") == pytest.approx(zoom)
    assert page.evaluate("document.activeElement.classList.contains('pmap-zoom-in')")
    page.focus(".pmap-home")
    page.keyboard.press("Enter")
    assert _centre(page, ".pmap-incident path") == pytest.approx((400, 300), abs=3)
    # the legend folds away and back
    assert page.get_attribute(".pmap-legend-toggle", "aria-pressed") == "false"
    page.click(".pmap-legend-toggle")
    assert page.query_selector(".pmap-legend") is not None
    assert page.get_attribute(".pmap-legend-toggle", "aria-pressed") == "true"
    page.click(".pmap-legend-toggle")
    assert page.query_selector(".pmap-legend") is None
    page.click(".pmap-legend-toggle")
    assert page.query_selector(".pmap-legend") is not None
    page.close()


_BOXES = """() => {
    const box = (e) => { const b = e.getBoundingClientRect();
        return {x0: b.left, y0: b.top, x1: b.right, y1: b.bottom, what: e.textContent}; };
    return {
        labels: [...document.querySelectorAll('.pmap-label')].map(box),
        markers: [...document.querySelectorAll(
            '.pmap-unit circle, .pmap-nearest circle, .pmap-incident path, .pmap-mark circle')]
            .map(box),
        chrome: [...document.querySelectorAll('.pmap-button, .pmap-legend')].map(box),
    };
}"""


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] < b["y1"] and b["y0"] < a["y1"])


@pytest.mark.parametrize(
    ("size", "font"),
    [((800, 600), 14), ((390, 420), 14), ((1600, 900), 14), ((1920, 1080), 28)],
    ids=["desktop", "phone", "wall", "wall-large-type"],
)
def test_labels_do_not_overlap_at_the_default_zoom(
    browser: Any, size: tuple[int, int], font: int
) -> None:
    board = _open(browser, size=size, font=font)
    boxes = board.page.evaluate(_BOXES)
    labels = boxes["labels"]
    assert len(labels) >= 6
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not _overlap(a, b), (a["what"], b["what"])
        for other in boxes["markers"] + boxes["chrome"]:
            assert not _overlap(a, other), (a["what"], other["what"])
        assert a["x0"] >= 0 and a["x1"] <= size[0] and a["y0"] >= 0 and a["y1"] <= size[1]
    # the type follows the page's: a large-type mode makes the labels larger
    heights = [b["y1"] - b["y0"] for b in labels]
    assert min(heights) >= font * 0.8
    board.page.close()


def test_large_type_makes_the_map_larger_too(browser: Any) -> None:
    sizes = []
    for font in (14, 28):
        board = _open(browser, size=(1280, 800), font=font)
        sizes.append(
            board.page.evaluate(
                "() => [document.querySelector('.pmap-unit circle').r.baseVal.value,"
                " document.querySelector('.pmap-zoom-in rect').width.baseVal.value]"
            )
        )
        board.page.close()
    (marker, button), (large_marker, large_button) = sizes
    assert large_marker >= 1.8 * marker and large_button >= 1.8 * button


def test_town_names_in_the_readers_languages(browser: Any) -> None:
    board = _open(browser, options={"languages": ["fr", "nl"], "lang": "fr"})
    page = board.page
    page.evaluate("map.setView({lat: 50.63, lon: 3.06, zoom: 10})")
    towns = page.eval_on_selector_all(".pmap-label-town", "(ts) => ts.map(t => t.textContent)")
    assert "Lille / Rijsel" in towns
    assert "Villeneuve-d'Ascq" in towns  # no other name: once
    page.close()


def test_axe_core_finds_no_serious_violation(browser: Any) -> None:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover
        missing("axe-playwright-python is not installed (pip install -e '.[dev]')")
    board = _open(browser, options={"legend": True})
    results = Axe().run(board.page)
    serious = [
        (v["id"], [n["html"][:80] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    board.page.close()


def test_more_towns_are_named_as_the_reader_zooms_in(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    page.keyboard.press("Tab")  # nothing else on the page: the map takes the focus
    town = "(ts) => ts.map(t => t.textContent)"
    page.evaluate("map.setView({zoom: 8})")
    far = page.eval_on_selector_all(".pmap-label-town", town)
    page.evaluate("map.setView({zoom: 12})")
    near = page.eval_on_selector_all(".pmap-label-town", town)
    assert "Lille" in far
    # close up, small places are named that had no room from far
    assert set(near) - set(far)
    page.close()


def test_nothing_is_fetched_but_the_boards_own_files(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    page.evaluate("map.setView({zoom: 13})")
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(100)
    assert board.refused == []
    assert all(url.startswith(ORIGIN + "/") for url in board.requests), board.requests
    assert sorted({url.removeprefix(ORIGIN) for url in board.requests}) == [
        "/board/api/geo",
        "/board/static/map.js",
        "/fixture.html",
    ]
    assert page.query_selector(".pmap-tile") is None
    page.close()


def test_the_tile_layer_uses_the_same_projection(browser: Any) -> None:
    board = _open(browser, tiles_url=TILES)
    page = board.page
    tiles = page.eval_on_selector_all(
        ".pmap-tile",
        "(is) => is.map(i => [i.getAttribute('href'), i.x.baseVal.value, i.y.baseVal.value,"
        " i.width.baseVal.value])",
    )
    assert tiles
    view = page.evaluate("map.getView()")
    z = round(view["zoom"])
    mx, my = _mercator(INCIDENT["lat"], INCIDENT["lon"])
    tx, ty = math.floor(mx * 2**z), math.floor(my * 2**z)
    href = TILES.format(z=z, x=tx, y=ty)
    found = [t for t in tiles if t[0] == href]
    assert len(found) == 1, [t[0] for t in tiles]
    _, x, y, width = found[0]
    # the incident is drawn inside its tile, where the tile's own grid puts it
    ix, iy = _centre(page, ".pmap-incident path")
    assert x + (mx * 2**z - tx) * width == pytest.approx(ix, abs=2)
    assert y + (my * 2**z - ty) * width == pytest.approx(iy, abs=2)
    page.wait_for_timeout(100)
    assert all(url.startswith((ORIGIN + "/", "http://tiles.test/")) for url in board.requests)
    assert board.refused == []
    page.close()


def test_update_keeps_the_readers_view(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    page.evaluate("map.zoomBy(1); map.panBy(30, 10)")
    page.wait_for_timeout(50)
    view = page.evaluate("map.getView()")
    changed = json.loads(json.dumps(DETAIL))
    changed["units"][0]["status"] = "on_scene"
    changed["units"][0]["lat"], changed["units"][0]["lon"] = 50.768, 2.995
    changed["units"].append({**changed["units"][1], "code": "BE-NEW-1", "lat": 50.76, "lon": 3.03})
    got = page.evaluate("(d) => !!mapjs.updateMap(document.getElementById('map'), d)", changed)
    assert got
    assert page.evaluate("map.getView()") == pytest.approx(view)
    codes = page.eval_on_selector_all(".pmap-unit", "(gs) => gs.map(g => g.dataset.code)")
    assert sorted(codes) == ["BE-NEW-1", "BE-WAPI-AMB-2", "FR-SDIS59-FPT-1"]
    status = page.eval_on_selector(
        '.pmap-unit[data-code="FR-SDIS59-FPT-1"]', "(g) => g.dataset.status"
    )
    assert status == "on_scene"
    # no map drawn in that element: nothing happens
    assert (
        page.evaluate(
            "mapjs.updateMap(document.createElementNS('http://www.w3.org/2000/svg', 'svg'), {})"
        )
        is None
    )
    page.close()


def test_the_words_are_the_readers(browser: Any) -> None:
    nl = translator("nl").gettext
    strings = {msgid: nl(msgid) for msgid in MAP_WORDS}
    board = _open(browser, options={"strings": strings, "lang": "nl", "legend": True})
    page = board.page
    legend = page.eval_on_selector(".pmap-legend", "(g) => g.textContent")
    assert "Frans-Belgische grens" in legend
    assert nl("Nearest available unit") in legend
    labels = page.eval_on_selector_all(".pmap-label", "(ts) => ts.map(t => t.textContent)")
    assert "FR-SDIS59-FPT-1 · onderweg · " + nl("in {n} min").format(n=18) in labels
    assert "BE-WAPI-AMB-9 · 15,4 km" in labels  # Dutch decimals
    label = page.get_attribute("#map", "aria-label")
    assert (
        label is not None
        and nl("Map: drag or use the arrow keys to move, + and − to zoom") in label
    )
    assert page.get_attribute(".pmap-zoom-in", "aria-label") == nl("Zoom in")
    page.close()


def test_without_an_incident_location_the_border_is_shown(browser: Any) -> None:
    detail = {
        **DETAIL,
        "incident": {**INCIDENT, "lat": None, "lon": None},
        "units": [],
        "nearest": [],
        "sites": [],
        "timeline": [],
    }
    board = _open(browser, detail=detail)
    page = board.page
    assert page.query_selector(".pmap-incident") is None
    box = page.eval_on_selector(
        ".pmap-border-line",
        "(p) => { const b = p.getBBox(); return [b.x, b.y, b.width, b.height]; }",
    )
    assert box[2] > 400  # the whole border across the map
    assert box[0] >= 0 and box[0] + box[2] <= 800
    page.close()


# --- the geo JSON ------------------------------------------------------------------------------


def test_map_words_are_the_ones_map_js_asks_for() -> None:
    source = (STATIC / "map.js").read_text(encoding="utf-8")
    asked = set(re.findall(r'say\((?:o|this\.options), "([^"]+)"', source))
    statuses = set(
        re.findall(
            r'^\s+\w+: "([a-z ]+)",$', source.split("const STATUS_WORD")[1].split("};")[0], re.M
        )
    )
    button_words = set(re.findall(r'\["[\w-]+", "[^"]+", "([^"]+)", \(\) =>', source))
    used = asked | statuses | button_words
    assert used == set(MAP_WORDS)
    for language in ("fr", "nl"):
        tr = translator(language)
        for msgid in MAP_WORDS:
            assert tr.gettext(msgid) != msgid or msgid in ("Incident #{ref}", "en route"), msgid


def test_a_unit_clicked_is_selected_a_drag_is_not(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    x, y, _ = _circle(page, '.pmap-unit[data-code="BE-WAPI-AMB-2"] circle')
    page.mouse.click(x, y)
    assert page.evaluate("window.selected") == ["BE-WAPI-AMB-2"]
    x, y, _ = _circle(page, '.pmap-nearest[data-code="BE-WAPI-AMB-9"] circle')
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 10, steps=4)
    page.mouse.up()
    assert page.evaluate("window.selected") == ["BE-WAPI-AMB-2"]  # moved the map only
    page.close()


def test_status_words_from_the_pages_own_table(browser: Any) -> None:
    """A page whose strings name statuses as the board's strings do ("offer:en_route") gets
    them in its language even where the map's own msgids are missing."""
    fr = translator("fr").gettext
    strings = {"offer:en_route": fr("en route"), "offer:on_scene": fr("on scene")}
    board = _open(browser, options={"strings": strings, "lang": "fr"})
    labels = board.page.eval_on_selector_all(".pmap-label", "(ts) => ts.map(t => t.textContent)")
    assert "BE-WAPI-AMB-2 · sur les lieux" in labels
    board.page.close()


_PINCH = """([x, y, apart]) => {
    const svg = document.getElementById('map');
    const fire = (type, id, px) => svg.dispatchEvent(new PointerEvent(type, {
        pointerId: id, clientX: px, clientY: y, bubbles: true, button: 0, isPrimary: id === 1}));
    fire('pointerdown', 1, x - 20); fire('pointerdown', 2, x + 20);
    for (let step = 1; step <= 4; step++) fire('pointermove', 2, x + 20 + apart * step / 4);
    fire('pointerup', 1, x - 20); fire('pointerup', 2, x + 20 + apart);
}"""


def test_two_fingers_zoom(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    zoom = page.evaluate("map.getView().zoom")
    page.evaluate(_PINCH, [400, 300, 40])  # 40 px apart → twice as far apart: one step in
    page.wait_for_timeout(100)
    assert page.evaluate("map.getView().zoom") == pytest.approx(zoom + 1, abs=0.05)
    page.close()


def test_drawn_while_hidden_the_whole_view_comes_once_shown(browser: Any) -> None:
    board = _open(browser)
    page = board.page
    expected = page.evaluate("map.getView()")
    page.evaluate(
        """(detail) => {
            const svg = document.getElementById('map');
            svg.style.display = 'none';
            window.map = mapjs.drawMap(svg, window.map.geo, detail, {});
            svg.style.display = 'block';
        }""",
        DETAIL,
    )
    page.wait_for_timeout(200)
    assert page.evaluate("map.getView()") == pytest.approx(expected)
    assert _centre(page, ".pmap-incident path") == pytest.approx((400, 300), abs=3)
    page.close()


@pytest.mark.parametrize("where", [100, 266])
def test_a_long_label_with_no_room_beside_it_is_still_shown(browser: Any, where: int) -> None:
    """On a phone, a unit whose label fits neither to its left nor to its right (nor centred
    above or below it): the label is set apart, slid along to stay on the map."""
    board = _open(browser, size=(366, 420))
    page = board.page
    unit = '.pmap-unit[data-code="FR-SDIS59-FPT-1"] circle'
    x, _, _ = _circle(page, unit)
    page.evaluate("(dx) => map.panBy(dx, 0)", x - where)
    page.wait_for_timeout(100)
    assert _circle(page, unit)[0] == pytest.approx(where, abs=1)
    boxes = page.evaluate(_BOXES)
    label = [b for b in boxes["labels"] if b["what"].startswith("FR-SDIS59-FPT-1")]
    assert len(label) == 1
    assert label[0]["x0"] >= 0 and label[0]["x1"] <= 366
    for other in boxes["labels"]:
        assert other is label[0] or not _overlap(label[0], other), other["what"]
    page.close()


def test_the_latest_twenty_located_entries_are_marked(browser: Any) -> None:
    entries = [
        {
            "n": n,
            "at": "2026-11-30T17:00:00Z",
            "author": "Jan",
            "kind": "location",
            "text": "",
            "lat": 50.77 + n / 2000,
            "lon": 3.0 + n / 1000,
            "media": [],
        }
        for n in range(30, 0, -1)
    ]
    board = _open(browser, detail={**DETAIL, "timeline": entries})
    numbers = board.page.eval_on_selector_all(
        ".pmap-mark", "(gs) => gs.map(g => Number(g.dataset.n))"
    )
    assert sorted(numbers) == list(range(11, 31))
    board.page.close()


def test_town_names_spread_over_the_whole_map(browser: Any) -> None:
    """Not only the cluster of big towns (Lille, Roubaix, Tourcoing): each quarter of the map
    names some place, and the big towns in view are named."""
    board = _open(browser)
    towns = board.page.eval_on_selector_all(
        ".pmap-town circle", "(cs) => cs.map(c => [c.cx.baseVal.value, c.cy.baseVal.value])"
    )
    quarters = {(x >= 400, y >= 300) for x, y in towns}
    assert len(quarters) == 4
    names = board.page.eval_on_selector_all(
        ".pmap-label-town", "(ts) => ts.map(t => t.textContent)"
    )
    assert {"Lille", "Roubaix", "Tourcoing", "Kortrijk"} <= set(names)
    board.page.close()
