"""The situation map: a real PNG of sensible size, its legend in the reader's language."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from bot.core.i18n import translator
from bot.geo import sites
from bot.geo.maps import MapData, MapUnit, border, map_layout, render_map
from bot.geo.sites import parse_csv
from bot.resources import roster_csv
from tests.harness import Harness

FR = translator("fr").gettext
NL = translator("nl").gettext
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "data" / "sites_sample.csv"


def png_info(data: bytes) -> tuple[int, int, dict[str, str]]:
    """Width, height and text chunks, read from the PNG's own structure."""
    assert data[:8] == PNG_SIGNATURE
    offset = 8
    texts: dict[str, str] = {}
    width = height = 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        crc = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            # compression flag, method, language\0, translated keyword\0, text
            rest = rest[2:]
            _, _, rest = rest.partition(b"\0")
            _, _, value = rest.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("utf-8")
        offset += 12 + length
        if kind == b"IEND":
            break
    return width, height, texts


def test_the_border_runs_from_the_north_sea_to_luxembourg() -> None:
    line = border()
    assert len(line) > 100  # Natural Earth 1:10m, not the 7 points of 1:110m
    (lat0, lon0), (lat1, lon1) = line[0], line[-1]
    assert 51.0 < lat0 < 51.2 and 2.4 < lon0 < 2.7  # the coast at De Panne / Bray-Dunes
    assert 49.4 < lat1 < 49.7 and 5.6 < lon1 < 5.9  # the tripoint near Longwy / Aubange


HALLUIN = (50.7836, 3.1269)


def _near_sites() -> list[sites.Site]:
    found = parse_csv(SAMPLE.read_text(encoding="utf-8"), "sample", 1.0)
    return [s for s in found if s.code in ("BE-SEV-COMINES", "FR-SEV-HALLUIN")]


def test_a_map_is_a_png_of_sensible_size_with_a_translated_legend() -> None:
    units = [
        MapUnit("FR-SDIS59-FPT-1", "fire_engine", 50.7239, 3.1612, True),
        MapUnit("BE-WAPI-AMB-1", "ambulance", 50.7444, 3.2064, False),
    ]
    data = MapData(1, "Incendie usine chimique", 50.798, 3.025, units, _near_sites(), "27/11 23:58")
    for language, gettext, other in (("fr", FR, NL), ("nl", NL, FR)):
        png = render_map(data, (language,))
        width, height, texts = png_info(png)
        # the map's panel is 1000 × 800; the legend below it adds its height
        assert width == 1000 and 800 < height < 1000
        layout = map_layout(data, (language,))
        assert (width, height) == (layout.width, layout.height)
        assert 20_000 < len(png) < 500_000
        legend = texts["Description"]
        assert gettext("France–Belgium border") in legend
        assert gettext("Incident #{ref}").format(ref=1) in legend
        assert gettext("{kind} (planning radius)").format(kind=gettext("Seveso upper-tier site"))
        assert other("France–Belgium border") not in legend


def _both(message: str, ref: int = 0, **words: str) -> str:
    """What a bilingual (fr + nl) chat reads: each language's text whole, once."""
    fr = FR(message).format(ref=ref, **{k: FR(v) for k, v in words.items()})
    nl = NL(message).format(ref=ref, **{k: NL(v) for k, v in words.items()})
    return fr if fr == nl else f"{fr} / {nl}"


def test_a_bilingual_legend_names_each_entry_once_in_both_languages() -> None:
    units = [
        MapUnit("BE-WAPI-AMB-1", "ambulance", 50.79, 3.03, True),
        MapUnit("BE-WAPI-AMB-2", "ambulance", 50.7444, 3.2064, False),
        MapUnit("FR-SDIS59-FPT-1", "fire_engine", 50.7239, 3.1612, True),
    ]
    data = MapData(1, "Incendie usine chimique", 50.798, 3.025, units, _near_sites())
    layout = map_layout(data, ("fr", "nl"))
    assert layout.legend == (
        _both("Incident #{ref}", ref=1),
        _both("France–Belgium border"),
        _both("{kind} (planning radius)", kind="Seveso upper-tier site"),
        _both("{kind} (planning radius)", kind="Seveso lower-tier site"),
        _both("{type}, committed", type="ambulance"),
        _both("{type}, committed", type="fire engine"),
        _both("{type}, available", type="ambulance"),
    )
    assert "ambulance, disponible / ziekenwagen, beschikbaar" in layout.legend
    # one language's words never twice in an entry (not "ambulance / ziekenwagen, disponible /
    # ambulance / ziekenwagen, beschikbaar")
    assert all(entry.count(" / ") <= 1 for entry in layout.legend)
    _, _, texts = png_info(render_map(data, ("fr", "nl")))
    assert texts["Description"] == " | ".join(layout.legend)


def test_the_legend_hides_nothing_of_the_map() -> None:
    units = [
        MapUnit(f"BE-WAPI-AMB-{n}", "ambulance", 50.74 + n / 100, 3.2 + n / 50, n % 2 == 0)
        for n in range(6)
    ]
    data = MapData(1, "Incendie usine chimique", 50.798, 3.025, units, _near_sites(), "27/11")
    for languages in (("fr", "nl"), ("en",)):
        layout = map_layout(data, languages)
        # the map with its tick labels and subtitle: the legend is below it, clear of it
        assert layout.legend_box.overlap(layout.map_box) == 0
        assert layout.legend_box.y1 <= layout.map_box.y0
        assert layout.legend_box.x0 >= 0 and layout.legend_box.x1 <= layout.width
        assert layout.legend_box.y0 >= 0 and layout.map_box.y1 <= layout.height
        for box in (*layout.unit_labels.values(), *layout.other_labels.values()):
            assert box.overlap(layout.legend_box) == 0


def test_labels_of_units_at_the_incident_stay_apart() -> None:
    lat, lon = 50.7444, 3.2064  # Mouscron
    types = ["ambulance", "fire_engine", "smur", "aerial_ladder", "hazmat", "water_tender"]
    units = [
        MapUnit(f"BE-X-{n}-{kind.upper()}", kind, lat, lon, True)
        for n, kind in enumerate(types * 2)
    ]
    units.append(MapUnit("FR-SDIS59-FPT-9", "fire_engine", lat + 0.0005, lon + 0.0005, False))
    data = MapData(7, "Collision ferroviaire", lat, lon, units, _near_sites())
    layout = map_layout(data, ("fr", "nl"))
    boxes = layout.unit_labels
    assert set(boxes) == {u.code for u in units}  # every unit named
    named = list(boxes.items()) + list(layout.other_labels.items())
    for i, (code, box) in enumerate(named):
        for other, other_box in named[:i]:
            assert box.overlap(other_box) == 0, (code, other)
    for box in boxes.values():
        assert box.x0 >= layout.map_box.x0 and box.x1 <= layout.map_box.x1
        assert box.y0 >= layout.map_box.y0 and box.y1 <= layout.map_box.y1
        # near their point, not flung across the map
        assert abs((box.x0 + box.x1) / 2 - boxes[units[0].code].x0) < 250


async def test_map_command_sends_the_picture(harness: Harness) -> None:
    h = harness
    await sites.import_sites(h.runtime.db, SAMPLE.read_text(encoding="utf-8"))
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu de stockage à Halluin")
    await h.say(h.commander_fr, h.ops_fr, "/map")
    sent = h.sim.bot_messages(h.ops_fr)[-1]
    assert sent.photo is not None
    width, height, texts = png_info(sent.photo.data)
    assert width == 1000 and 800 < height < 1000
    assert FR("France–Belgium border") in texts["Description"]
    assert FR("Seveso lower-tier site") in texts["Description"]  # the sample LPG depot
    assert "#1" in (sent.caption or "")


ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-2,ambulance,Ambulance Mouscron 1,ZS WAPI,BE,50.7444,3.2064,1,available
FR-SDIS59-FPT-1,autopompe,FPT Tourcoing,SDIS 59,FR,50.7239,3.1612,1,available
"""


async def test_a_bilingual_group_reads_each_legend_entry_once_in_both_languages(
    harness: Harness,
) -> None:
    h = harness
    await sites.import_sites(h.runtime.db, SAMPLE.read_text(encoding="utf-8"))
    await roster_csv.import_roster(h.runtime.db, ROSTER)
    await h.say(h.commander, h.ops, "/incident Feu de stockage à Halluin")
    await h.say(h.commander, h.ops, "/map")
    sent = h.sim.bot_messages(h.ops)[-1]
    assert sent.photo is not None
    _, _, texts = png_info(sent.photo.data)
    legend = texts["Description"].split(" | ")
    assert "ambulance, disponible / ziekenwagen, beschikbaar" in legend
    assert _both("{type}, available", type="fire engine") in legend
    assert _both("France–Belgium border") in legend
    assert all(entry.count(" / ") <= 1 for entry in legend), legend
