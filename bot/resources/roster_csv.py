"""The roster as a CSV file: read and checked whole (every problem with its line and column;
a file with any bad row imports nothing), imported in one unit of work, and written back in the
same format (plus columns that import ignores)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping

from bot.core.db import Database
from bot.core.models import Country, ImportReport, OfferStatus, RosterEntry, UnitStatus
from bot.core.vocabulary import parse_status, parse_type
from bot.geo import region
from bot.resources import units

COLUMNS = ("code", "type", "name", "agency", "country", "lat", "lon", "capacity", "status")
OPTIONAL_COLUMNS = ("note", "sample")
# written by export, ignored by import (they describe the database, not the roster)
EXPORT_ONLY = ("incident", "confirmed_at", "confirmed_by", "free")  # free: a facility's places
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,39}$")
MAX_NAME = 120
_TRUE = {"1", "yes", "true", "oui", "ja", "sample", "x"}
_FALSE = {"", "0", "no", "false", "non", "nee"}
IMPORTABLE = (UnitStatus.AVAILABLE, UnitStatus.UNAVAILABLE, UnitStatus.MAINTENANCE)


class RosterFileError(Exception):
    """The file is rejected whole; `problems` has one line per problem, with its line and
    column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_csv(content: str, source: str = "roster.csv") -> list[RosterEntry]:
    """Read and check a whole roster file; raise RosterFileError listing every problem as
    `source:line:column (name): what`."""
    content = content.removeprefix("\ufeff")
    first = content.split("\n", 1)[0]
    # spreadsheets set to French or Dutch write semicolons and decimal commas
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    problems: list[str] = []
    # physical line numbers: a quoted field may span several lines
    numbered: list[tuple[int, list[str]]] = []
    try:
        numbered.extend((reader.line_num, row) for row in reader)
    except csv.Error as exc:
        raise RosterFileError([f"{source}:{reader.line_num}: {exc}"]) from None
    rows = [row for _, row in numbered]
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RosterFileError([f"{source}:1: the file is empty (expected a header line)"])
    header = [cell.strip().lower() for cell in rows[0]]
    known = set(COLUMNS) | set(OPTIONAL_COLUMNS) | set(EXPORT_ONLY)
    for number, name in enumerate(header, start=1):
        if name not in known:
            problems.append(f"{source}:1:{number} ({name}): unknown column")
        elif header.count(name) > 1 and header.index(name) != number - 1:
            problems.append(f"{source}:1:{number} ({name}): column given twice")
    for name in COLUMNS:
        if name not in header:
            problems.append(f"{source}:1: missing column {name!r}")
    if problems:
        raise RosterFileError(problems)
    position = {name: header.index(name) for name in header}
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for line_no, cells in numbered[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            problems.append(
                f"{source}:{line_no}:{len(header) + 1}: {len(cells)} fields, the header has "
                f"{len(header)}"
            )
            continue
        entry = _entry(cells, position, delimiter, f"{source}:{line_no}", problems)
        if entry is None:
            continue
        if entry.code in seen:
            col = position["code"] + 1
            problems.append(
                f"{source}:{line_no}:{col} (code): {entry.code} is already on line "
                f"{seen[entry.code]}"
            )
            continue
        seen[entry.code] = line_no
        entries.append(entry)
    if problems:
        raise RosterFileError(problems)
    if not entries:
        raise RosterFileError([f"{source}:2: no units in the file"])
    return entries


def _entry(
    cells: list[str], position: Mapping[str, int], delimiter: str, where: str, out: list[str]
) -> RosterEntry | None:
    before = len(out)

    def cell(name: str) -> str:
        index = position.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def bad(name: str, what: str) -> None:
        out.append(f"{where}:{position[name] + 1} ({name}): {what}")

    def number(name: str, low: float, high: float) -> float | None:
        raw = cell(name)
        value = raw.replace(",", ".") if delimiter == ";" else raw
        try:
            parsed = float(value)
        except ValueError:
            bad(name, f"{raw!r} is not a number" if raw else "empty")
            return None
        if not low <= parsed <= high:
            bad(name, f"{raw} is outside {low:g} … {high:g}")
            return None
        return parsed

    code = cell("code").upper()
    if not CODE_PATTERN.match(code):
        bad(
            "code",
            f"{cell('code')!r} is not a unit code (letters, digits, dashes, e.g. BE-WAPI-AMB-3)",
        )
    type_ = parse_type(cell("type"))
    if type_ is None:
        bad("type", f"unknown type {cell('type')!r}")
    name = cell("name")
    if not name or len(name) > MAX_NAME:
        bad("name", "empty" if not name else f"longer than {MAX_NAME} characters")
    agency = cell("agency")
    if not agency or len(agency) > MAX_NAME:
        bad("agency", "empty" if not agency else f"longer than {MAX_NAME} characters")
    country = Country(cell("country").upper()) if cell("country").upper() in set(Country) else None
    if country is None:
        bad("country", f"{cell('country')!r} is neither FR nor BE")
    lat = number("lat", -90, 90)
    lon = number("lon", -180, 180)
    if lat is not None and lon is not None:
        for column, what in region.problems(lat, lon):
            bad(column, what)
    capacity = 1
    raw_capacity = cell("capacity")
    if raw_capacity:
        if raw_capacity.isdigit() and 1 <= int(raw_capacity) <= 100000:
            capacity = int(raw_capacity)
        else:
            bad("capacity", f"{raw_capacity!r} is not a whole number from 1 to 100000")
    status: UnitStatus | OfferStatus | None = UnitStatus.AVAILABLE
    if cell("status"):
        status = parse_status(cell("status"))
        if status not in IMPORTABLE:
            bad(
                "status",
                f"{cell('status')!r}: use available, unavailable or maintenance"
                " (commitments come from requests)",
            )
    note = cell("note") or None
    if note is not None and len(note) > 300:
        bad("note", "longer than 300 characters")
    sample = False
    if "sample" in position:
        raw_sample = cell("sample").lower()
        if raw_sample in _TRUE:
            sample = True
        elif raw_sample not in _FALSE:
            bad("sample", f"{cell('sample')!r}: use yes or no")
    if len(out) > before:
        return None
    assert type_ is not None and country is not None and isinstance(status, UnitStatus)
    assert lat is not None and lon is not None
    return RosterEntry(code, type_, name, agency, country, lat, lon, capacity, status, note, sample)


async def import_roster(
    db: Database, content: str, source: str = "roster.csv", replace: bool = False
) -> ImportReport:
    """Add or update every unit of the file in one unit of work (all or nothing). With
    `replace`, units missing from the file are removed, except committed ones."""
    entries = parse_csv(content, source)
    async with db.unit() as unit:
        return await units.store_entries(unit, entries, replace)


async def export_roster(db: Database) -> str:
    """The roster as CSV, in the import format (plus columns import ignores)."""
    rows = await units.all_units(db)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *OPTIONAL_COLUMNS, *EXPORT_ONLY])
    for row in rows:
        writer.writerow(
            [
                row["code"],
                row["type"],
                row["name"],
                row["agency"],
                row["country"],
                f"{row['lat']:.5f}",
                f"{row['lon']:.5f}",
                row["capacity"],
                row["status"],
                row["note"] or "",
                "yes" if row["sample"] else "no",
                row["incident_id"] or "",
                row["confirmed_at"] or "",
                row["confirmed_by"] or "",
                "" if row["free"] is None else row["free"],
            ]
        )
    return out.getvalue()
