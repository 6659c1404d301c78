"""The situation map: a real PNG of sensible size, its legend in the reader's language."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from pathlib import Path

import pytest

from bot import cli
from bot.core.db import SqliteDatabase
from bot.core.i18n import translator
from bot.core.models import Hazard, SiteKind
from bot.geo import region, sites
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


# --- the sites register as a file -----------------------------------------------------------


def _as_excel(content: str) -> str:
    """The file as a spreadsheet set to French writes it: semicolons, decimal commas."""
    lines = [line for line in content.splitlines() if not line.startswith("#")]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    rows = list(csv.reader(lines))
    writer.writerow(rows[0])
    decimals = [rows[0].index(c) for c in ("lat", "lon", "radius_km")]
    for row in rows[1:]:
        writer.writerow([c.replace(".", ",") if i in decimals else c for i, c in enumerate(row)])
    return out.getvalue()


def test_sites_in_semicolons_and_decimal_commas_read_as_the_roster_does() -> None:
    excel = _as_excel(SAMPLE.read_text(encoding="utf-8"))
    assert "50,78" in excel and ";" in excel.splitlines()[0]
    assert parse_csv("\ufeff" + excel, "excel.csv", 1.0) == parse_csv(
        SAMPLE.read_text(encoding="utf-8"), "sample", 1.0
    )


def test_every_site_problem_has_its_line_and_column() -> None:
    header = "code,name,kind,country,lat,lon,radius_km,population\n"
    bad = (
        header + "BE-X-1,Dépôt,seveso_high,BE,3.0256,50.782,2,1200\n"
        "BE-X-2,,volcano,DE,43.3,north,0,many\n"
        "BE-X-1,Dépôt bis,seveso_high,BE,50.782,3.0256,2,\n"
    )
    with pytest.raises(sites.SitesFileError) as caught:
        parse_csv(bad, "s.csv", 1.0)
    assert caught.value.problems == [
        "s.csv:2:5 (lat): 3.0256, 50.782 is not in the France–Belgium border region but"
        " 50.782, 3.0256 is: swapped latitude and longitude?",
        "s.csv:3:2 (name): empty",
        "s.csv:3:3 (kind): 'volcano' is not one of " + ", ".join(k.value for k in SiteKind),
        "s.csv:3:4 (country): 'DE' is not FR or BE",
        "s.csv:3:6 (lon): 'north' is not a number",
        "s.csv:3:7 (radius_km): must be more than 0 and at most 100 km",
        "s.csv:3:8 (population): 'many' is not a whole number",
        "s.csv:4:1 (code): BE-X-1 is also on line 2",
    ]
    with pytest.raises(sites.SitesFileError) as caught:
        parse_csv("code;name;kind\nX;Y;dam\n", "h.csv", 1.0)
    assert caught.value.problems == [
        "h.csv:1: missing column 'country'",
        "h.csv:1: missing column 'lat'",
        "h.csv:1: missing column 'lon'",
    ]


def test_the_region_holds_the_gazetteer_the_sample_roster_and_the_sample_sites() -> None:
    data = SAMPLE.parent
    for name in ("gazetteer.csv", "roster_sample.csv", "sites_sample.csv"):
        text = (data / name).read_text(encoding="utf-8")
        rows = list(csv.DictReader(line for line in text.splitlines() if line[:1] != "#"))
        assert len(rows) > 10
        outside = [r for r in rows if not region.inside(float(r["lat"]), float(r["lon"]))]
        assert outside == [], name
    # Brussels, Ghent and Lille hospitals; Nancy (Meurthe-et-Moselle), Arlon (Luxembourg)
    for lat, lon in ((50.8466, 4.3528), (51.0236, 3.725), (50.6107, 3.0345), (48.69, 6.18)):
        assert region.inside(lat, lon) and not region.inside(lon, lat)
    assert region.inside(49.6833, 5.8167)
    assert not region.inside(43.2965, 5.3698)  # Marseille
    assert not region.inside(52.3676, 4.9041)  # Amsterdam


def test_the_command_line_imports_excel_sites_and_tells_what_did_not_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    excel = tmp_path / "sites.csv"
    excel.write_bytes(_as_excel(SAMPLE.read_text(encoding="utf-8")).encode("cp1252"))
    run = ["sites", "import", str(excel), "--config", str(config)]
    assert cli.main(run) == 0
    out, err = capsys.readouterr()
    assert f"{excel}: 11 sites added, 0 updated, 0 unchanged, 0 removed" in out
    assert "warning: not UTF-8; read as Windows-1252" in err
    assert cli.main(run) == 0
    assert "0 sites added, 0 updated, 11 unchanged, 0 removed" in capsys.readouterr().out
    one = tmp_path / "one.csv"
    one.write_text(
        "code,name,kind,country,lat,lon\nBE-X-1,Barrage,dam,BE,50.1,4.5\n", encoding="utf-8"
    )
    assert cli.main(["sites", "import", str(one), "--config", str(config)]) == 0
    assert "1 site added, 0 updated, 0 unchanged" in capsys.readouterr().out


def test_hazards_are_a_vocabulary_read_in_any_language_with_a_free_note() -> None:
    header = "code,name,kind,country,lat,lon,hazards,hazard_note\n"
    read = parse_csv(
        header + 'BE-X-1,Dépôt,seveso_high,BE,50.782,3.0256,"chlore; nuage toxique",'
        "cuves de 60 t\n"
        "BE-X-2,Silo,seveso_low,BE,50.78,3.03,ammoniak / brand,\n",
        "s.csv",
        1.0,
    )
    assert read[0].hazards == (Hazard.CHLORINE, Hazard.TOXIC_CLOUD)
    assert read[0].hazard_note == "cuves de 60 t"
    assert read[1].hazards == (Hazard.AMMONIA, Hazard.FIRE) and read[1].hazard_note is None
    with pytest.raises(sites.SitesFileError) as caught:
        parse_csv(header + "BE-X-1,Dépôt,seveso_high,BE,50.78,3.02,chlore; plutonium,\n", "s", 1)
    assert caught.value.problems == [
        "s:2:7 (hazards): 'plutonium' is not one of "
        + ", ".join(h.value for h in Hazard)
        + " (anything else goes in the hazard_note column)"
    ]


async def test_hazards_of_an_older_register_stay_readable(tmp_path: Path) -> None:
    """Imported when hazards were free text: the words that name a hazard are read as one,
    the rest is kept as the note."""
    db = SqliteDatabase(tmp_path / "old.db")
    await db.open()
    try:
        async with db.unit() as tx:
            await tx.execute(
                "INSERT INTO sites (code, name, kind, country, lat, lon, radius_km, hazards,"
                " sample, updated_at) VALUES ('BE-OLD', 'Gare', 'rail_yard', 'BE', 50.6, 3.4,"
                " 1, 'hazardous goods in transit; wagons de butane', 0, '2026-01-01')"
            )
        (site,) = await sites.all_sites(db)
        assert site.hazards == (Hazard.DANGEROUS_GOODS,)
        assert site.hazard_note == "wagons de butane"
        exported = await sites.export_sites(db)
        assert "BE-OLD" in exported and "dangerous_goods,wagons de butane" in exported
        again = parse_csv(exported, "export", 1.0)
        assert again[0].hazards == site.hazards and again[0].hazard_note == site.hazard_note
    finally:
        await db.close()


def test_the_sample_registers_say_nothing_in_english() -> None:
    """Their free text is shown as written, to French and Dutch readers alike: the sample
    sites name hazards from the vocabulary only, the sample units have no note."""
    site_rows = parse_csv(SAMPLE.read_text(encoding="utf-8"), "sample", 1.0)
    assert all(s.hazards for s in site_rows) and not any(s.hazard_note for s in site_rows)
    roster = (SAMPLE.parent / "roster_sample.csv").read_text(encoding="utf-8")
    units = list(csv.DictReader(line for line in roster.splitlines() if line[:1] != "#"))
    assert len(units) == 60 and not any(u["note"] for u in units)


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
