"""The resource roster: units and facilities on both sides of the border, their types in three
languages, CSV import and export, and status changes by the agencies that own them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TypeVar

from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.directory import reachable_chats
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import (
    CONFIRMED_BY_FILE,
    Chat,
    ChatKind,
    Country,
    ImportReport,
    OfferStatus,
    Person,
    ResourceType,
    Role,
    RosterEntry,
    Unit,
    UnitStatus,
)
from bot.core.vocabulary import fold
from bot.delivery.outbox import enqueue
from bot.render.keyboards import rollcall_keyboard
from bot.render.roster import render_rollcall

E = TypeVar("E", bound=StrEnum)


# --- reading ------------------------------------------------------------------------------

UNIT_SELECT = """
SELECT u.*, o.status AS deployment
FROM units u
LEFT JOIN request_offers o ON o.unit_id = u.id AND u.free IS NULL
    AND o.status IN ('committed', 'en_route', 'on_scene')
"""
# a facility's places held, per incident (vehicles are committed whole: `deployment`)
HELD_SELECT = """
SELECT o.unit_id, r.incident_id, SUM(o.amount) AS places, MIN(o.decided_at) AS since
FROM request_offers o JOIN requests r ON r.id = o.request_id
WHERE o.status IN ('committed', 'en_route', 'on_scene') AND o.amount > 0
"""
HELD_GROUPED = " GROUP BY o.unit_id, r.incident_id ORDER BY since, r.incident_id"


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
        free=row["free"],
        reported_at=from_db_time(row["reported_at"]) if row["reported_at"] else None,
    )


async def _with_held(tx: Tx, found: list[Unit], unit_id: int | None = None) -> list[Unit]:
    """Facilities with the places each incident holds (one query for all of them)."""
    if not any(u.counted for u in found):
        return found
    if unit_id is None:
        rows = await tx.all(HELD_SELECT + HELD_GROUPED)
    else:
        rows = await tx.all(HELD_SELECT + " AND o.unit_id = ?" + HELD_GROUPED, (unit_id,))
    held: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        held.setdefault(row["unit_id"], []).append((row["incident_id"], int(row["places"])))
    return [u.model_copy(update={"held": tuple(held[u.id])}) if u.id in held else u for u in found]


async def unit_in(tx: Tx, code: str) -> Unit | None:
    row = await tx.one(UNIT_SELECT + " WHERE u.code = ?", (code.strip().upper(),))
    if row is None:
        return None
    unit = unit_from_row(row)
    return (await _with_held(tx, [unit], unit.id))[0]


async def unit_by_id(tx: Tx, unit_id: int) -> Unit | None:
    row = await tx.one(UNIT_SELECT + " WHERE u.id = ?", (unit_id,))
    if row is None:
        return None
    return (await _with_held(tx, [unit_from_row(row)], unit_id))[0]


async def get_unit(db: Database, code: str) -> Unit | None:
    async with db.read() as tx:
        return await unit_in(tx, code)


async def roster(
    db: Database, type_: ResourceType | None = None, country: Country | None = None
) -> list[Unit]:
    async with db.read() as tx:
        return await roster_in(tx, type_, country)


async def roster_in(
    tx: Tx, type_: ResourceType | None = None, country: Country | None = None
) -> list[Unit]:
    """Units of a type and country (or all), freshest confirmation first."""
    where, params = _filters(type_, country)
    rows = await tx.all(
        UNIT_SELECT + where + " ORDER BY u.confirmed_at IS NULL, u.confirmed_at DESC, u.code",
        params,
    )
    return await _with_held(tx, [unit_from_row(row) for row in rows])


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
    return await _with_held(
        tx, [unit_from_row(row) for row in rows if fold(row["agency"]) == fold(agency)]
    )


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


def manages_units(person: Person, chat: Chat | None) -> bool:
    """Whether someone may change some unit's status here (`may_manage` for some agency):
    an admin, a person of an agency, or anyone in an agency's own chat."""
    if Role.ADMIN in person.roles or person.agency:
        return True
    return chat is not None and chat.kind is ChatKind.AGENCY and bool(chat.agency)


async def set_status(
    work: UnitOfWork,
    *,
    code: str,
    status: UnitStatus,
    note: str | None,
    person: Person,
    chat: Chat | None,
) -> Unit:
    """/unit <code> available|unavailable|maintenance [note] and the unit's buttons."""
    if status is UnitStatus.COMMITTED:
        raise UserError(N_("A unit is committed by answering a request, not by hand."))
    unit = await unit_in(work, code)
    return await _set_status(work, unit, code, status, note, person, chat)


async def set_status_by_id(
    work: UnitOfWork, *, unit_id: int, status: UnitStatus, person: Person, chat: Chat | None
) -> Unit:
    unit = await unit_by_id(work, unit_id)
    return await _set_status(work, unit, str(unit_id), status, None, person, chat)


def _managed(unit: Unit | None, code: str, person: Person, chat: Chat | None) -> Unit:
    """The unit, if it exists and this person may change it (its own agency, or an admin)."""
    if unit is None:
        raise UserError(N_("There is no unit {code} in the roster."), code=code)
    if not may_manage(person, chat, unit.agency):
        raise UserError(
            N_("{code} belongs to {agency}: only its own agency (or an admin) may change it."),
            code=unit.code,
            agency=unit.agency,
        )
    return unit


async def _set_status(
    tx: UnitOfWork,
    unit: Unit | None,
    code: str,
    status: UnitStatus,
    note: str | None,
    person: Person,
    chat: Chat | None,
) -> Unit:
    unit = _managed(unit, code, person, chat)
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
    work: UnitOfWork, *, agency: str, unit_id: int | None, person: Person, chat: Chat | None
) -> list[Unit]:
    """The roll-call: one unit (or all of the agency's units, `unit_id` None) confirmed as
    listed. Returns the agency's units as they are now."""
    if not may_manage(person, chat, agency):
        raise UserError(N_("Only the agency's own people (or an admin) may confirm its units."))
    units = await agency_units_in(work, agency)
    chosen = [u for u in units if unit_id is None or u.id == unit_id]
    if not chosen:
        raise UserError(N_("This button is no longer valid."))
    now = to_db_time(utcnow())
    await work.executemany(
        "UPDATE units SET confirmed_at = ?, confirmed_by = ? WHERE id = ?",
        [(now, person.name, u.id) for u in chosen],
    )
    return await agency_units_in(work, agency)


# --- commitments (bot.resources.requests decides; the units table is written here) --------


async def commit_to(work: UnitOfWork, unit_id: int, ref: int, by: str) -> bool:
    """Take the unit for an incident, only if it is still available (race-safe)."""
    now = to_db_time(utcnow())
    taken = await work.execute(
        "UPDATE units SET status = ?, incident_id = ?, confirmed_at = ?, confirmed_by = ?,"
        " updated_at = ? WHERE id = ? AND status = ?",
        (
            UnitStatus.COMMITTED.value,
            ref,
            now,
            by,
            now,
            unit_id,
            UnitStatus.AVAILABLE.value,
        ),
    )
    return taken > 0


async def give_back(work: UnitOfWork, unit_id: int) -> None:
    """A commitment that could not count (the request filled meanwhile) is undone."""
    await work.execute(
        "UPDATE units SET status = ?, incident_id = NULL WHERE id = ?",
        (UnitStatus.AVAILABLE.value, unit_id),
    )


async def free(work: UnitOfWork, unit_id: int, by: str) -> None:
    """Released from its incident: available again."""
    now = to_db_time(utcnow())
    await work.execute(
        "UPDATE units SET status = ?, incident_id = NULL, confirmed_at = ?, confirmed_by = ?,"
        " updated_at = ? WHERE id = ? AND status = ?",
        (UnitStatus.AVAILABLE.value, now, by, now, unit_id, UnitStatus.COMMITTED.value),
    )


async def take_places(work: UnitOfWork, unit_id: int, places: int) -> bool:
    """Take places of a facility, only if it is available and has that many free (race-safe:
    the count never goes below zero, whoever presses at the same instant)."""
    taken = await work.execute(
        "UPDATE units SET free = free - ?, updated_at = ?"
        " WHERE id = ? AND status = ? AND free IS NOT NULL AND free >= ?",
        (places, to_db_time(utcnow()), unit_id, UnitStatus.AVAILABLE.value, places),
    )
    return taken > 0


async def give_places(work: UnitOfWork, unit_id: int, places: int) -> None:
    """Places given back (released, recalled, cancelled): free again, never above the total."""
    await work.execute(
        "UPDATE units SET free = CASE WHEN free + ? > capacity THEN capacity ELSE free + ? END,"
        " updated_at = ? WHERE id = ? AND free IS NOT NULL",
        (places, places, to_db_time(utcnow()), unit_id),
    )


async def held_places(tx: Tx, unit_id: int) -> int:
    row = await tx.one(
        "SELECT COALESCE(SUM(amount), 0) AS places FROM request_offers"
        " WHERE unit_id = ? AND status IN ('committed', 'en_route', 'on_scene')",
        (unit_id,),
    )
    return int(row["places"]) if row else 0


async def report_places(
    work: UnitOfWork,
    unit: Unit,
    *,
    free: int,
    total: int | None,
    available: bool | None,
    at: str,
    by: str,
) -> None:
    """A facility's owner reports its free count (and total, and whether it takes patients
    at all): from an EDXL-HAVE document or /unit. The report is the owner's own count: places
    committed through Passerelle before it are in it already."""
    now = to_db_time(utcnow())
    status = unit.status
    if available is not None:
        status = UnitStatus.AVAILABLE if available else UnitStatus.UNAVAILABLE
    await work.execute(
        "UPDATE units SET free = ?, capacity = ?, status = ?, reported_at = ?,"
        " confirmed_at = ?, confirmed_by = ?, updated_at = ? WHERE id = ?",
        (
            free,
            total if total is not None else unit.capacity,
            status.value,
            at,
            now,
            by,
            now,
            unit.id,
        ),
    )


MAX_PLACES = 100_000


async def report_by_hand(
    work: UnitOfWork,
    *,
    code: str,
    free: int,
    total: int | None,
    person: Person,
    chat: Chat | None,
) -> Unit:
    """/unit <code> free <n>[/<total>]: a facility's own agency reports its free places."""
    unit = await unit_in(work, code)
    unit = _managed(unit, code, person, chat)
    if not unit.counted:
        raise UserError(
            N_("{code} is a vehicle: it is committed whole, it has no free places to count."),
            code=unit.code,
        )
    check_places(free, total if total is not None else unit.capacity)
    await report_places(
        work,
        unit,
        free=free,
        total=total,
        available=None,
        at=to_db_time(utcnow()),
        by=person.name,
    )
    changed = await unit_by_id(work, unit.id)
    assert changed is not None
    return changed


def check_places(free: int, total: int) -> None:
    """Counts that make sense: a total of 1 to MAX_PLACES, free between 0 and the total."""
    if not 1 <= total <= MAX_PLACES:
        raise UserError(N_("A total of places must be between 1 and {limit}."), limit=MAX_PLACES)
    if free < 0:
        raise UserError(N_("A count of free places cannot be negative."))
    if free > total:
        raise UserError(
            N_("{free} free is more than the {total} places there are."), free=free, total=total
        )


async def store_entries(
    tx: UnitOfWork, entries: Sequence[RosterEntry], replace: bool = False
) -> ImportReport:
    """Add or update every unit given. With `replace`, units not given are removed, except
    those committed or part of a request's history (kept, taken off duty)."""
    now = to_db_time(utcnow())
    added = updated = unchanged = removed = 0
    kept: list[str] = []
    for entry in entries:
        existing = await tx.one("SELECT * FROM units WHERE code = ?", (entry.code,))
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
                " sample, code, status, confirmed_at, confirmed_by, updated_at, free)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *values,
                    entry.code,
                    entry.status.value,
                    now,
                    CONFIRMED_BY_FILE,
                    now,
                    entry.capacity if entry.type.counted else None,
                ),
            )
            added += 1
            continue
        if _as_in_file(existing, entry):
            unchanged += 1
            continue
        await tx.execute(
            "UPDATE units SET type = ?, name = ?, agency = ?, country = ?, lat = ?, lon = ?,"
            " capacity = ?, note = ?, sample = ?, updated_at = ? WHERE id = ?",
            (*values, now, existing["id"]),
        )
        # a facility's free count follows its total (what incidents hold stays held)
        if entry.type.counted:
            held = await held_places(tx, existing["id"])
            await tx.execute(
                "UPDATE units SET free = ? WHERE id = ?",
                (max(0, entry.capacity - held), existing["id"]),
            )
        else:
            await tx.execute("UPDATE units SET free = NULL WHERE id = ?", (existing["id"],))
        # a commitment stands until it is released; the file cannot undo it
        await tx.execute(
            "UPDATE units SET status = ?, confirmed_at = ?, confirmed_by = ?"
            " WHERE id = ? AND status != ?",
            (
                entry.status.value,
                now,
                CONFIRMED_BY_FILE,
                existing["id"],
                UnitStatus.COMMITTED.value,
            ),
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
    return ImportReport(added, updated, removed, kept, unchanged)


def _as_in_file(row: Row, entry: RosterEntry) -> bool:
    """The stored unit already reads as the file's row (a commitment stands: the file's
    status is not compared with it)."""
    status = row["status"]
    return (
        row["type"] == entry.type.value
        and row["name"] == entry.name
        and row["agency"] == entry.agency
        and row["country"] == entry.country.value
        and math.isclose(row["lat"], entry.lat, abs_tol=1e-9)
        and math.isclose(row["lon"], entry.lon, abs_tol=1e-9)
        and row["capacity"] == entry.capacity
        and row["note"] == entry.note
        and bool(row["sample"]) == entry.sample
        and (status == entry.status.value or status == UnitStatus.COMMITTED.value)
    )


async def all_units(db: Database) -> list[Row]:
    """Every unit as stored, for the roster's export."""
    async with db.read() as tx:
        return await tx.all("SELECT * FROM units ORDER BY country, agency, code")


async def agency_chats(tx: Tx) -> list[Chat]:
    """Reachable agency chats that name their agency."""
    return [c for c in await reachable_chats(tx, ChatKind.AGENCY) if c.agency]


async def cut_off_agencies(tx: Tx) -> set[str]:
    """Agencies (folded) whose chat is registered but cannot be reached any more (the bot was
    removed or blocked there), and that have no other chat that can."""
    rows = await tx.all(
        "SELECT agency, unreachable_at FROM chats WHERE kind = ? AND agency IS NOT NULL",
        (ChatKind.AGENCY.value,),
    )
    reachable = {fold(r["agency"]) for r in rows if r["unreachable_at"] is None}
    return {fold(r["agency"]) for r in rows if r["unreachable_at"] is not None} - reachable


def chats_of(chats: Iterable[Chat], agency: str) -> list[Chat]:
    return [c for c in chats if same_agency(c.agency, agency)]


async def rollcall(tx: UnitOfWork, *, stale_after_hours: float, day: str) -> int:
    """The daily roll-call: each agency chat is asked to confirm its units (once a `day`)."""
    now = utcnow()
    sent = 0
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
