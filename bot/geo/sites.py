"""The register of at-risk sites (the Geo-Alarm idea): Seveso plants, nuclear plants, rail
yards, dams, flood zones, each with its planning radius and the plan that applies. CSV import
(all or nothing, every problem with its line and column) and export, like the roster's; the
sites near a point, and those whose radius an incident lies in."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.db import Database, Row, Tx, to_db_time, utcnow
from bot.core.models import Country, Hazard, Site, SiteKind, SiteNear
from bot.core.vocabulary import parse_hazard
from bot.geo import region
from bot.geo.distance import distance_km

KM_PER_DEGREE = 111.195
MAX_RADIUS_KM = 100.0


COLUMNS = (
    "code",
    "name",
    "kind",
    "country",
    "lat",
    "lon",
    "radius_km",
    "hazards",
    "hazard_note",
    "population",
    "plan",
    "sample",
)

REQUIRED = ("code", "name", "kind", "country", "lat", "lon")


class SitesFileError(Exception):
    """The file is rejected whole; one line per problem, with its line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_HAZARD_CODES = frozenset(h.value for h in Hazard)
_HAZARD_SEPARATORS = re.compile(r"\s*[;,/|+]\s*")


def _split_hazards(raw: str) -> list[str]:
    return [word for word in _HAZARD_SEPARATORS.split(raw.strip()) if word]


def _stored_hazards(raw: str | None, note: str | None) -> tuple[tuple[Hazard, ...], str | None]:
    """Hazards as stored (codes separated by ';'). A register imported before hazards were a
    vocabulary holds free words: those that are not a hazard are kept as the note."""
    hazards: list[Hazard] = []
    other: list[str] = []
    for word in _split_hazards(raw or ""):
        # stored codes are read as they are; only free words go through the vocabulary
        found = Hazard(word) if word in _HAZARD_CODES else parse_hazard(word)
        if found is None:
            other.append(word)
        elif found not in hazards:
            hazards.append(found)
    if other:
        note = "; ".join([*other, *([note] if note else [])])
    return tuple(hazards), note


def _site(row: Row) -> Site:
    hazards, note = _stored_hazards(row["hazards"], row["hazard_note"])
    return Site(
        code=row["code"],
        name=row["name"],
        kind=SiteKind(row["kind"]),
        country=Country(row["country"]),
        lat=row["lat"],
        lon=row["lon"],
        radius_km=row["radius_km"],
        hazards=hazards,
        hazard_note=note,
        population=row["population"],
        plan=row["plan"],
        sample=bool(row["sample"]),
    )


_YES = {"yes", "y", "true", "1", "oui", "ja", "x"}
_NO = {"", "no", "n", "false", "0", "non", "nee"}


def parse_csv(content: str, source: str, default_radius_km: float) -> list[Site]:
    """Every row a site, or SitesFileError listing every problem as
    `source:line:column (name): what` (lines counted from 1, the header included; lines
    starting with # are comments). Like the roster, a file written by a spreadsheet set to
    French or Dutch (semicolons, decimal commas) is read as well."""
    lines = content.removeprefix("\ufeff").splitlines()
    problems: list[str] = []
    data = [(n, line) for n, line in enumerate(lines, 1) if line.strip() and line[0] != "#"]
    if not data:
        raise SitesFileError([f"{source}: empty file"])
    first = data[0][1]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader([line for _, line in data], delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SitesFileError([f"{source}:{data[0][0]}: missing column {c!r}" for c in missing])
    position = {name: header.index(name) + 1 for name in header}
    sites: list[Site] = []
    seen: dict[str, int] = {}
    for (number, _), values in zip(data[1:], reader, strict=False):
        row = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}
        where = f"{source}:{number}"
        before = len(problems)

        def bad(column: str, message: str, where: str = where) -> None:
            problems.append(f"{where}:{position[column]} ({column}): {message}")

        code = row["code"].upper()
        if not code:
            bad("code", "empty")
        elif code in seen:
            bad("code", f"{code} is also on line {seen[code]}")
        seen.setdefault(code, number)
        if not row["name"]:
            bad("name", "empty")
        kind = next((k for k in SiteKind if k.value == row["kind"].lower()), None)
        if kind is None:
            bad("kind", f"{row['kind']!r} is not one of {', '.join(k.value for k in SiteKind)}")
        country = next((c for c in Country if c.value == row["country"].upper()), None)
        if country is None:
            bad("country", f"{row['country']!r} is not FR or BE")
        lat = lon = radius = 0.0
        located = True
        for column in ("lat", "lon"):
            try:
                value = _decimal(row[column], delimiter)
            except ValueError:
                bad(column, f"{row[column]!r} is not a number" if row[column] else "empty")
                located = False
                continue
            if column == "lat":
                lat = value
            else:
                lon = value
        if located:
            for column, what in region.problems(lat, lon):
                bad(column, what)
        if row.get("radius_km"):
            try:
                radius = _decimal(row["radius_km"], delimiter)
                if not 0.0 < radius <= MAX_RADIUS_KM:
                    bad("radius_km", f"must be more than 0 and at most {MAX_RADIUS_KM:g} km")
            except ValueError:
                bad("radius_km", f"{row['radius_km']!r} is not a number")
        else:
            radius = default_radius_km
        hazards: list[Hazard] = []
        for word in _split_hazards(row.get("hazards") or ""):
            hazard = parse_hazard(word)
            if hazard is None:
                bad(
                    "hazards",
                    f"{word!r} is not one of {', '.join(h.value for h in Hazard)}"
                    " (anything else goes in the hazard_note column)",
                )
            elif hazard not in hazards:
                hazards.append(hazard)
        population: int | None = None
        if row.get("population"):
            try:
                population = int(re.sub(r"\s", "", row["population"]))
                if population < 0:
                    bad("population", "negative")
            except ValueError:
                bad("population", f"{row['population']!r} is not a whole number")
        sample_word = (row.get("sample") or "").lower()
        if sample_word not in _YES | _NO:
            bad("sample", f"{row.get('sample')!r} is not yes or no")
        if len(problems) > before or kind is None or country is None:
            continue
        sites.append(
            Site(
                code=code,
                name=row["name"],
                kind=kind,
                country=country,
                lat=lat,
                lon=lon,
                radius_km=radius,
                hazards=tuple(hazards),
                hazard_note=row.get("hazard_note") or None,
                population=population,
                plan=row.get("plan") or None,
                sample=sample_word in _YES,
            )
        )
    if problems:
        raise SitesFileError(problems)
    return sites


def _decimal(raw: str, delimiter: str) -> float:
    """A number; with semicolons between fields, a decimal comma too (50,7836)."""
    return float(raw.replace(",", ".") if delimiter == ";" else raw)


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int  # sites that differed from the file
    removed: int
    unchanged: int = 0  # sites already as the file has them: not written


async def import_sites(
    db: Database,
    content: str,
    *,
    source: str = "sites.csv",
    default_radius_km: float = 1.0,
    replace: bool = False,
) -> ImportReport:
    """Add or update every site of the file in one unit of work; with `replace`, sites that
    are not in the file are removed."""
    sites = parse_csv(content, source, default_radius_km)
    now = to_db_time(utcnow())
    added = updated = unchanged = removed = 0
    async with db.unit() as tx:
        for site in sites:
            existing = await tx.one("SELECT * FROM sites WHERE code = ?", (site.code,))
            if existing is not None and _same(_site(existing), site):
                unchanged += 1
                continue
            values = (
                site.name,
                site.kind.value,
                site.country.value,
                site.lat,
                site.lon,
                site.radius_km,
                ";".join(h.value for h in site.hazards) or None,
                site.hazard_note,
                site.population,
                site.plan,
                int(site.sample),
                now,
            )
            changed = await tx.execute(
                "UPDATE sites SET name = ?, kind = ?, country = ?, lat = ?, lon = ?,"
                " radius_km = ?, hazards = ?, hazard_note = ?, population = ?, plan = ?,"
                " sample = ?, updated_at = ? WHERE code = ?",
                (*values, site.code),
            )
            if changed:
                updated += 1
                continue
            await tx.execute(
                "INSERT INTO sites (name, kind, country, lat, lon, radius_km, hazards,"
                " hazard_note, population, plan, sample, updated_at, code)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, site.code),
            )
            added += 1
        if replace:
            codes = [s.code for s in sites]
            marks = ",".join("?" for _ in codes)
            removed = await tx.execute(f"DELETE FROM sites WHERE code NOT IN ({marks})", codes)
    return ImportReport(added, updated, removed, unchanged)


def _same(stored: Site, given: Site) -> bool:
    close = all(
        math.isclose(a, b, abs_tol=1e-9)
        for a, b in (
            (stored.lat, given.lat),
            (stored.lon, given.lon),
            (stored.radius_km, given.radius_km),
        )
    )
    return close and replace(stored, lat=0, lon=0, radius_km=0) == replace(
        given, lat=0, lon=0, radius_km=0
    )


async def all_sites(db: Database) -> list[Site]:
    async with db.read() as tx:
        rows = await tx.all("SELECT * FROM sites ORDER BY country, code")
    return [_site(row) for row in rows]


async def export_sites(db: Database) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in await all_sites(db):
        writer.writerow(
            [
                s.code,
                s.name,
                s.kind.value,
                s.country.value,
                f"{s.lat:.5f}",
                f"{s.lon:.5f}",
                f"{s.radius_km:g}",
                "; ".join(h.value for h in s.hazards),
                s.hazard_note or "",
                "" if s.population is None else s.population,
                s.plan or "",
                "yes" if s.sample else "no",
            ]
        )
    return out.getvalue()


async def near_in(tx: Tx, lat: float, lon: float, within_km: float) -> list[SiteNear]:
    """Sites whose planning radius reaches the point, or that lie within `within_km` of
    it; nearest first."""
    reach = within_km + MAX_RADIUS_KM
    dlat = reach / KM_PER_DEGREE
    dlon = reach / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    rows = await tx.all(
        "SELECT * FROM sites WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
        (lat - dlat, lat + dlat, lon - dlon, lon + dlon),
    )
    found = []
    for row in rows:
        site = _site(row)
        near = SiteNear(site, distance_km(lat, lon, site.lat, site.lon))
        if near.inside or near.distance_km <= within_km:
            found.append(near)
    return sorted(found, key=lambda n: n.distance_km)


async def near(db: Database, lat: float, lon: float, within_km: float) -> list[SiteNear]:
    async with db.read() as tx:
        return await near_in(tx, lat, lon, within_km)


def warnings(found: Sequence[SiteNear]) -> list[SiteNear]:
    """Those whose planning radius the point lies in."""
    return [n for n in found if n.inside]
