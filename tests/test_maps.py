"""The situation map: a real PNG of sensible size, its legend in the reader's language."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from bot.core.i18n import translator
from bot.geo import sites
from bot.geo.maps import MapData, MapUnit, border, render_map
from bot.geo.sites import parse_csv
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


def test_a_map_is_a_png_of_sensible_size_with_a_translated_legend() -> None:
    found = parse_csv(SAMPLE.read_text(encoding="utf-8"), "sample", 1.0)
    near = [s for s in found if s.code in ("BE-SEV-COMINES", "FR-SEV-HALLUIN")]
    units = [
        MapUnit("FR-SDIS59-FPT-1", "fire_engine", "FPT", 50.7239, 3.1612, True),
        MapUnit("BE-WAPI-AMB-1", "ambulance", "ambulance", 50.7444, 3.2064, False),
    ]
    data = MapData(1, "Incendie usine chimique", 50.798, 3.025, units, near, "27/11 23:58")
    for gettext, other in ((FR, NL), (NL, FR)):
        png = render_map(data, gettext)
        width, height, texts = png_info(png)
        assert (width, height) == (1000, 800)
        assert 20_000 < len(png) < 500_000
        legend = texts["Description"]
        assert gettext("France–Belgium border") in legend
        assert gettext("Incident #{ref}").format(ref=1) in legend
        assert gettext("{kind} (planning radius)").format(kind=gettext("Seveso upper-tier site"))
        assert other("France–Belgium border") not in legend


async def test_map_command_sends_the_picture(harness: Harness) -> None:
    h = harness
    await sites.import_sites(h.runtime.db, SAMPLE.read_text(encoding="utf-8"))
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu de stockage à Halluin")
    await h.say(h.commander_fr, h.ops_fr, "/map")
    sent = h.sim.bot_messages(h.ops_fr)[-1]
    assert sent.photo is not None
    width, height, texts = png_info(sent.photo.data)
    assert (width, height) == (1000, 800)
    assert FR("France–Belgium border") in texts["Description"]
    assert FR("Seveso lower-tier site") in texts["Description"]  # the sample LPG depot
    assert "#1" in (sent.caption or "")
