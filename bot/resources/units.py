"""The resource roster: units and facilities on both sides of the border, their types in three
languages, CSV import and export, and status changes by the agencies that own them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bot.core.db import Database, Row, Tx, from_db_time, to_db_time, utcnow
from bot.core.directory import reachable_chats
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import (
    Chat,
    ChatKind,
    Country,
    OfferStatus,
    Person,
    ResourceType,
    Role,
    Unit,
    UnitStatus,
)
from bot.core.vocabulary import fold, parse_status, parse_type
from bot.delivery.outbox import enqueue
from bot.render.keyboards import rollcall_keyboard
from bot.render.roster import render_rollcall

E = TypeVar("E", bound=StrEnum)


# --- reading ------------------------------------------------------------------------------

UNIT_SELECT = """
SELECT u.*, o.status AS deployment
FROM units u
LEFT JOIN request_offers o ON o.unit_id = u.id AND o.status IN ('committed', 'en_route', 'on_scene')
"""


def unit_from_row(row: Row) -> Unit:
    deployment = row["deployment"] if "deployment" in row.keys() else None  # noqa: SIM118
    return Unit(
        id=row["id"],
        code=row["code"],
        type=ResourceType(row["type"]),
        name=row["name"],
        agency=row["agency"],
        country=Country(row["country"]),
        lat=row["lat"],
        lon=row["lon"],
        capacity=row["capacity"],
        status=UnitStatus(row["status"]),
        deployment=OfferStatus(deployment) if deployment else None,
        incident_ref=row["incident_id"],
        note=row["note"],
        sample=bool(row["sample"]),
        confirmed_at=from_db_time(row["confirmed_at"]) if row["confirmed_at"] else None,
        confirmed_by=row["confirmed_by"],
    )


async def unit_in(tx: Tx, code: str) -> Unit | None:
    row = await tx.one(UNIT_SELECT + " WHERE u.code = ?", (code.strip().upper(),))
    return unit_from_row(row) if row else None


async def unit_by_id(tx: Tx, unit_id: int) -> Unit | None:
    row = await tx.one(UNIT_SELECT + " WHERE u.id = ?", (unit_id,))
    return unit_from_row(row) if row else None


async def get_unit(db: Database, code: str) -> Unit | None:
    async with db.read() as tx:
        return await unit_in(tx, code)


async def roster(
    db: Database, type_: ResourceType | None = None, country: Country | None = None
) -> list[Unit]:
    """Units of a type and country (or all), freshest confirmation first."""
    where, params = _filters(type_, country)
    async with db.read() as tx:
        rows = await tx.all(
            UNIT_SELECT + where + " ORDER BY u.confirmed_at IS NULL, u.confirmed_at DESC, u.code",
            params,
        )
    return [unit_from_row(row) for row in rows]


def _filters(type_: ResourceType | None, country: Country | None) -> tuple[str, tuple[object, ...]]:
    clauses: list[str] = []
    params: list[object] = []
    if type_ is not None:
        clauses.append("u.type = ?")
        params.append(type_.value)
    if country is not None:
        clauses.append("u.country = ?")
        params.append(country.value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


async def agency_units(db: Database, agency: str) -> list[Unit]:
    async with db.read() as tx:
        return await agency_units_in(tx, agency)


async def agency_units_in(tx: Tx, agency: str) -> list[Unit]:
    rows = await tx.all(UNIT_SELECT + " ORDER BY u.code")
    return [unit_from_row(row) for row in rows if fold(row["agency"]) == fold(agency)]


# --- who may change a unit ----------------------------------------------------------------


def same_agency(a: str | None, b: str | None) -> bool:
    return bool(a and b and fold(a) == fold(b))


def may_manage(person: Person, chat: Chat | None, agency: str) -> bool:
    """Admins, people of the owning agency, and (for people whose agency is not configured)
    whoever writes in the owning agency's own chat."""
    if Role.ADMIN in person.roles:
        return True
    if person.agency:
        return same_agency(person.agency, agency)
    return chat is not None and chat.kind is ChatKind.AGENCY and same_agency(chat.agency, agency)


async def set_status(
    db: Database,
    *,
    code: str,
    status: UnitStatus,
    note: str | None,
    person: Person,
    chat: Chat | None,
    update_id: int | None,
) -> Unit:
    """/unit <code> available|unavailable|maintenance [note] and the unit's buttons."""
    if status is UnitStatus.COMMITTED:
        raise UserError(N_("A unit is committed by answering a request, not by hand."))
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        unit = await unit_in(tx, code)
        return await _set_status(tx, unit, code, status, note, person, chat)


async def set_status_by_id(
    db: Database,
    *,
    unit_id: int,
    status: UnitStatus,
    person: Person,
    chat: Chat | None,
    update_id: int | None,
) -> Unit:
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        unit = await unit_by_id(tx, unit_id)
        return await _set_status(tx, unit, str(unit_id), status, None, person, chat)


async def _set_status(
    tx: Tx,
    unit: Unit | None,
    code: str,
    status: UnitStatus,
    note: str | None,
    person: Person,
    chat: Chat | None,
) -> Unit:
    if unit is None:
        raise UserError(N_("There is no unit {code} in the roster."), code=code)
    if not may_manage(person, chat, unit.agency):
        raise UserError(
            N_("{code} belongs to {agency}: only its own agency (or an admin) may change it."),
            code=unit.code,
            agency=unit.agency,
        )
    if unit.status is UnitStatus.COMMITTED:
        raise UserError(
            N_(
                "{code} is committed to incident #{ref}: its commander frees it with "
                "/release {code}."
            ),
            code=unit.code,
            ref=unit.incident_ref or 0,
        )
    if note is not None and len(note) > 300:
        raise UserError(N_("That is too long: at most {limit} characters."), limit=300)
    now = to_db_time(utcnow())
    await tx.execute(
        "UPDATE units SET status = ?, note = ?, confirmed_at = ?, confirmed_by = ?,"
        " updated_at = ? WHERE id = ?",
        (status.value, note, now, person.name, now, unit.id),
    )
    changed = await unit_by_id(tx, unit.id)
    assert changed is not None
    return changed


async def confirm(
    db: Database,
    *,
    agency: str,
    unit_id: int | None,
    person: Person,
    chat: Chat | None,
    update_id: int | None,
) -> list[Unit]:
    """The roll-call: one unit (or all of the agency's units, `unit_id` None) confirmed as
    listed. Returns the agency's units as they are now."""
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        if not may_manage(person, chat, agency):
            raise UserError(N_("Only the agency's own people (or an admin) may confirm its units."))
        units = await agency_units_in(tx, agency)
        chosen = [u for u in units if unit_id is None or u.id == unit_id]
        if not chosen:
            raise UserError(N_("This button is no longer valid."))
        now = to_db_time(utcnow())
        await tx.executemany(
            "UPDATE units SET confirmed_at = ?, confirmed_by = ? WHERE id = ?",
            [(now, person.name, u.id) for u in chosen],
        )
        return await agency_units_in(tx, agency)


# --- CSV import and export ----------------------------------------------------------------

COLUMNS = ("code", "type", "name", "agency", "country", "lat", "lon", "capacity", "status")
OPTIONAL_COLUMNS = ("note", "sample")
# written by export, ignored by import (they describe the database, not the roster)
EXPORT_ONLY = ("incident", "confirmed_at", "confirmed_by")
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


@dataclass(frozen=True)
class RosterEntry:
    code: str
    type: ResourceType
    name: str
    agency: str
    country: Country
    lat: float
    lon: float
    capacity: int
    status: UnitStatus
    note: str | None
    sample: bool


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    removed: int
    kept_committed: list[str]


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

    def number(name: str, low: float, high: float) -> float:
        raw = cell(name)
        value = raw.replace(",", ".") if delimiter == ";" else raw
        try:
            parsed = float(value)
        except ValueError:
            bad(name, f"{raw!r} is not a number" if raw else "empty")
            return 0.0
        if not low <= parsed <= high:
            bad(name, f"{raw} is outside {low:g} … {high:g}")
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
    return RosterEntry(code, type_, name, agency, country, lat, lon, capacity, status, note, sample)


async def import_roster(
    db: Database, content: str, source: str = "roster.csv", replace: bool = False
) -> ImportReport:
    """Add or update every unit of the file in one transaction (all or nothing). With
    `replace`, units missing from the file are removed, except committed ones."""
    entries = parse_csv(content, source)
    now = to_db_time(utcnow())
    added = updated = removed = 0
    kept: list[str] = []
    async with db.transaction() as tx:
        for entry in entries:
            existing = await tx.one("SELECT id, status FROM units WHERE code = ?", (entry.code,))
            values = (
                entry.type.value,
                entry.name,
                entry.agency,
                entry.country.value,
                entry.lat,
                entry.lon,
                entry.capacity,
                entry.note,
                int(entry.sample),
            )
            if existing is None:
                await tx.execute(
                    "INSERT INTO units (type, name, agency, country, lat, lon, capacity, note,"
                    " sample, code, status, confirmed_at, confirmed_by, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, entry.code, entry.status.value, now, "import", now),
                )
                added += 1
                continue
            await tx.execute(
                "UPDATE units SET type = ?, name = ?, agency = ?, country = ?, lat = ?, lon = ?,"
                " capacity = ?, note = ?, sample = ?, updated_at = ? WHERE id = ?",
                (*values, now, existing["id"]),
            )
            # a commitment stands until it is released; the file cannot undo it
            await tx.execute(
                "UPDATE units SET status = ?, confirmed_at = ?, confirmed_by = ?"
                " WHERE id = ? AND status != ?",
                (entry.status.value, now, "import", existing["id"], UnitStatus.COMMITTED.value),
            )
            updated += 1
        if replace:
            codes = {e.code for e in entries}
            for row in await tx.all("SELECT id, code, status FROM units ORDER BY code"):
                if row["code"] in codes:
                    continue
                used = await tx.one(
                    "SELECT 1 FROM request_offers WHERE unit_id = ? LIMIT 1", (row["id"],)
                )
                if row["status"] == UnitStatus.COMMITTED.value or used is not None:
                    # still committed, or part of a request's history: kept, taken off duty
                    kept.append(row["code"])
                    if row["status"] != UnitStatus.COMMITTED.value:
                        await tx.execute(
                            "UPDATE units SET status = ?, updated_at = ? WHERE id = ?",
                            (UnitStatus.UNAVAILABLE.value, now, row["id"]),
                        )
                    continue
                await tx.execute("DELETE FROM units WHERE id = ?", (row["id"],))
                removed += 1
    return ImportReport(added, updated, removed, kept)


async def export_roster(db: Database) -> str:
    """The roster as CSV, in the import format (plus columns import ignores)."""
    async with db.read() as tx:
        rows = await tx.all("SELECT * FROM units ORDER BY country, agency, code")
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
            ]
        )
    return out.getvalue()


async def agency_chats(tx: Tx) -> list[Chat]:
    """Reachable agency chats that name their agency."""
    return [c for c in await reachable_chats(tx, ChatKind.AGENCY) if c.agency]


def chats_of(chats: Iterable[Chat], agency: str) -> list[Chat]:
    return [c for c in chats if same_agency(c.agency, agency)]


async def rollcall(db: Database, *, stale_after_hours: float, day: str) -> int:
    """The daily roll-call: each agency chat is asked to confirm its units (once a `day`)."""
    now = utcnow()
    sent = 0
    async with db.transaction() as tx:
        for chat in await agency_chats(tx):
            assert chat.agency is not None
            units = await agency_units_in(tx, chat.agency)
            if not units:
                continue
            queued = await enqueue(
                tx,
                chat_id=chat.id,
                html=render_rollcall(
                    chat.agency, units, chat.languages, chat.timezone, now, stale_after_hours
                ),
                purpose="rollcall",
                reply_markup=rollcall_keyboard(units, chat.languages),
                key=f"rollcall:{day}:{chat.id}",
            )
            sent += 1 if queued else 0
    return sent
