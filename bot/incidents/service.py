"""Incidents and their timelines: every change is one transaction that also records the
update it serves and marks the incident's cards for a refresh."""

from __future__ import annotations

from bot.core.db import Database, Row, Tx, from_db_time, to_db_time, utcnow
from bot.core.directory import ensure_person, person_in
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import (
    Assignment,
    Author,
    Chat,
    Country,
    Incident,
    IncidentField,
    IncidentStatus,
    PersonRef,
    Role,
    Severity,
    TimelineEntry,
    TimelineKind,
)
from bot.core.text import clean_text

MAX_TITLE = 200
MAX_NOTE = 2000
MAX_FIELD = 300


_INCIDENT_SELECT = """
SELECT i.*, c.name AS commander_name, s.name AS spokesperson_name, l.name AS liaison_name
FROM incidents i
LEFT JOIN people c ON c.id = i.commander_id
LEFT JOIN people s ON s.id = i.spokesperson_id
LEFT JOIN people l ON l.id = i.liaison_id
"""


def _ref(row: Row, prefix: str) -> PersonRef | None:
    person_id = row[f"{prefix}_id"]
    return PersonRef(id=person_id, name=row[f"{prefix}_name"]) if person_id else None


def _incident(row: Row) -> Incident:
    return Incident(
        ref=row["id"],
        chat_id=row["chat_id"],
        title=row["title"],
        type=row["type"],
        severity=Severity(row["severity"]) if row["severity"] else None,
        status=IncidentStatus(row["status"]),
        location_text=row["location_text"],
        lat=row["lat"],
        lon=row["lon"],
        country=Country(row["country"]),
        commander=_ref(row, "commander"),
        spokesperson=_ref(row, "spokesperson"),
        liaison=_ref(row, "liaison"),
        exercise=bool(row["exercise"]),
        declared_at=from_db_time(row["declared_at"]),
        updated_at=from_db_time(row["updated_at"]),
        closed_at=from_db_time(row["closed_at"]) if row["closed_at"] else None,
    )


def _entry(row: Row) -> TimelineEntry:
    return TimelineEntry(
        id=row["id"],
        incident_ref=row["incident_id"],
        kind=TimelineKind(row["kind"]),
        author=PersonRef(id=row["author_id"], name=row["author_name"])
        if row["author_id"]
        else None,
        chat_id=row["chat_id"],
        text=row["text"],
        field=row["field"],
        lat=row["lat"],
        lon=row["lon"],
        at=from_db_time(row["at"]),
    )


async def incident_in(tx: Tx, ref: int) -> Incident | None:
    row = await tx.one(_INCIDENT_SELECT + " WHERE i.id = ?", (ref,))
    return _incident(row) if row else None


async def _open_incident(tx: Tx, ref: int) -> Incident:
    incident = await incident_in(tx, ref)
    if incident is None:
        raise UserError(N_("There is no incident #{ref}."), ref=ref)
    if not incident.is_open:
        raise UserError(N_("Incident #{ref} is closed."), ref=ref)
    return incident


async def record(
    tx: Tx,
    ref: int,
    kind: TimelineKind,
    author: Author | None,
    chat_id: int | None,
    *,
    text: str | None = None,
    field: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    message_id: int | None = None,
) -> None:
    now = to_db_time(utcnow())
    if author is not None:
        await ensure_person(tx, author.id, author.name, author.username, author.language)
    await tx.execute(
        "INSERT INTO timeline (incident_id, kind, author_id, chat_id, message_id, field, text,"
        " lat, lon, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ref,
            kind.value,
            author.id if author else None,
            chat_id,
            message_id,
            field,
            text,
            lat,
            lon,
            now,
        ),
    )
    await tx.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (now, ref))
    # every change shows on every card of the incident
    await tx.execute("UPDATE cards SET version = version + 1 WHERE incident_id = ?", (ref,))


async def declare(
    db: Database, *, chat: Chat, title: str, author: Author, exercise: bool, update_id: int | None
) -> Incident:
    title = clean_text(title, MAX_TITLE, N_("title"))
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await ensure_person(tx, author.id, author.name, author.username, author.language)
        person = await person_in(tx, author.id)
        # whoever declares as a commander commands until /assign says otherwise
        commander_id = author.id if person and Role.COMMANDER in person.roles else None
        now = to_db_time(utcnow())
        ref = await tx.execute(
            "INSERT INTO incidents (chat_id, title, status, country, commander_id, exercise,"
            " declared_by, declared_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chat.id,
                title,
                IncidentStatus.REPORTED.value,
                chat.country.value,
                commander_id,
                int(exercise),
                author.id,
                now,
                now,
            ),
        )
        await tx.execute(
            "INSERT INTO cards (incident_id, chat_id, version, shown_version) VALUES (?, ?, 1, 0)",
            (ref, chat.id),
        )
        await record(tx, ref, TimelineKind.DECLARED, author, chat.id, text=title)
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


async def add_note(
    db: Database,
    *,
    ref: int,
    text: str,
    author: Author,
    chat_id: int,
    message_id: int | None,
    update_id: int | None,
) -> Incident:
    text = clean_text(text, MAX_NOTE, N_("note"))
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await _open_incident(tx, ref)
        await record(tx, ref, TimelineKind.NOTE, author, chat_id, text=text, message_id=message_id)
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


def _check_coordinates(lat: float, lon: float) -> None:
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise UserError(N_("Those coordinates are not on Earth."))


async def add_location(
    db: Database,
    *,
    ref: int,
    lat: float,
    lon: float,
    author: Author,
    chat_id: int,
    message_id: int | None,
    update_id: int | None,
) -> Incident:
    _check_coordinates(lat, lon)
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await _open_incident(tx, ref)
        await tx.execute("UPDATE incidents SET lat = ?, lon = ? WHERE id = ?", (lat, lon, ref))
        await record(
            tx, ref, TimelineKind.LOCATION, author, chat_id, lat=lat, lon=lon, message_id=message_id
        )
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


async def locate(
    db: Database,
    *,
    ref: int,
    text: str | None,
    lat: float,
    lon: float,
    author: Author,
    chat_id: int,
    update_id: int | None,
) -> Incident:
    """A named place: the location's text (when given) and its coordinates, in one change."""
    _check_coordinates(lat, lon)
    value = clean_text(text, MAX_FIELD, N_("value")) if text is not None else None
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await _open_incident(tx, ref)
        if value is not None:
            await tx.execute("UPDATE incidents SET location_text = ? WHERE id = ?", (value, ref))
            await record(
                tx,
                ref,
                TimelineKind.FIELD,
                author,
                chat_id,
                field=IncidentField.LOCATION.value,
                text=value,
            )
        await tx.execute("UPDATE incidents SET lat = ?, lon = ? WHERE id = ?", (lat, lon, ref))
        await record(tx, ref, TimelineKind.LOCATION, author, chat_id, lat=lat, lon=lon)
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


async def change_status(
    db: Database,
    *,
    ref: int,
    status: IncidentStatus,
    author: Author,
    chat_id: int,
    update_id: int | None,
) -> Incident:
    if status is IncidentStatus.CLOSED:
        return await close(db, ref=ref, author=author, chat_id=chat_id, update_id=update_id)
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        incident = await _open_incident(tx, ref)
        if incident.status is not status:
            await tx.execute("UPDATE incidents SET status = ? WHERE id = ?", (status.value, ref))
            await record(tx, ref, TimelineKind.STATUS, author, chat_id, text=status.value)
        changed = await incident_in(tx, ref)
    assert changed is not None
    return changed


async def change_severity(
    db: Database,
    *,
    ref: int,
    severity: Severity,
    author: Author,
    chat_id: int,
    update_id: int | None,
) -> Incident:
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        incident = await _open_incident(tx, ref)
        if incident.severity is not severity:
            await tx.execute(
                "UPDATE incidents SET severity = ? WHERE id = ?", (severity.value, ref)
            )
            await record(tx, ref, TimelineKind.SEVERITY, author, chat_id, text=severity.value)
        changed = await incident_in(tx, ref)
    assert changed is not None
    return changed


_TEXT_COLUMNS = {
    IncidentField.TITLE: ("title", MAX_TITLE),
    IncidentField.TYPE: ("type", MAX_FIELD),
    IncidentField.LOCATION: ("location_text", MAX_FIELD),
}


async def change_text(
    db: Database,
    *,
    ref: int,
    field: IncidentField,
    value: str,
    author: Author,
    chat_id: int,
    update_id: int | None,
) -> Incident:
    """/set title|type|location: free text fields."""
    column, limit = _TEXT_COLUMNS[field]
    value = clean_text(value, limit, N_("value"))
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await _open_incident(tx, ref)
        await tx.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (value, ref))
        await record(tx, ref, TimelineKind.FIELD, author, chat_id, field=field.value, text=value)
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


_ASSIGNMENT_COLUMN = {
    Assignment.COMMANDER: "commander_id",
    Assignment.SPOKESPERSON: "spokesperson_id",
    Assignment.LIAISON: "liaison_id",
}


async def assign(
    db: Database,
    *,
    ref: int,
    assignment: Assignment,
    assignee: Author,
    author: Author,
    chat_id: int,
    update_id: int | None,
) -> Incident:
    column = _ASSIGNMENT_COLUMN[assignment]
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await _open_incident(tx, ref)
        await ensure_person(tx, assignee.id, assignee.name, assignee.username)
        await tx.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (assignee.id, ref))
        person = await person_in(tx, assignee.id)
        name = person.name if person else assignee.name
        await record(
            tx, ref, TimelineKind.ASSIGNED, author, chat_id, field=assignment.value, text=name
        )
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


async def close(
    db: Database, *, ref: int, author: Author, chat_id: int, update_id: int | None
) -> Incident:
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        await _open_incident(tx, ref)
        now = to_db_time(utcnow())
        await tx.execute(
            "UPDATE incidents SET status = ?, closed_at = ? WHERE id = ?",
            (IncidentStatus.CLOSED.value, now, ref),
        )
        await record(tx, ref, TimelineKind.CLOSED, author, chat_id)
        incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


# --- reading -------------------------------------------------------------------------------


async def get(db: Database, ref: int) -> Incident | None:
    async with db.read() as tx:
        return await incident_in(tx, ref)


async def latest_open(db: Database, chat_id: int) -> Incident | None:
    async with db.read() as tx:
        row = await tx.one(
            _INCIDENT_SELECT + " WHERE i.chat_id = ? AND i.status != ? ORDER BY i.id DESC LIMIT 1",
            (chat_id, IncidentStatus.CLOSED.value),
        )
    return _incident(row) if row else None


async def latest(db: Database, chat_id: int) -> Incident | None:
    """The chat's most recent incident, open or closed."""
    async with db.read() as tx:
        row = await tx.one(
            _INCIDENT_SELECT + " WHERE i.chat_id = ? ORDER BY i.id DESC LIMIT 1", (chat_id,)
        )
    return _incident(row) if row else None


async def open_in_chat(db: Database, chat_id: int) -> list[Incident]:
    async with db.read() as tx:
        rows = await tx.all(
            _INCIDENT_SELECT + " WHERE i.chat_id = ? AND i.status != ? ORDER BY i.id",
            (chat_id, IncidentStatus.CLOSED.value),
        )
    return [_incident(row) for row in rows]


async def open_everywhere(db: Database) -> list[Incident]:
    async with db.read() as tx:
        rows = await tx.all(
            _INCIDENT_SELECT + " WHERE i.status != ? ORDER BY i.id",
            (IncidentStatus.CLOSED.value,),
        )
    return [_incident(row) for row in rows]


async def timeline(db: Database, ref: int, last: int) -> list[TimelineEntry]:
    """The `last` entries, oldest first."""
    async with db.read() as tx:
        return await timeline_in(tx, ref, last)


async def timeline_in(tx: Tx, ref: int, last: int) -> list[TimelineEntry]:
    rows = await tx.all(
        "SELECT t.*, p.name AS author_name FROM timeline t"
        " LEFT JOIN people p ON p.id = t.author_id"
        " WHERE t.incident_id = ? ORDER BY t.id DESC LIMIT ?",
        (ref, last),
    )
    return [_entry(row) for row in reversed(rows)]


async def timelines(db: Database, refs: list[int], last: int) -> dict[int, list[TimelineEntry]]:
    async with db.read() as tx:
        return {ref: await timeline_in(tx, ref, last) for ref in refs}


async def incident_of_message(db: Database, chat_id: int, message_id: int) -> int | None:
    """The incident a bot message in this chat is about, if any."""
    async with db.read() as tx:
        row = await tx.one(
            "SELECT incident_id FROM incident_messages WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
    return int(row["incident_id"]) if row else None


async def remember_message(db: Database, chat_id: int, message_id: int, ref: int) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO incident_messages (chat_id, message_id, incident_id) VALUES (?, ?, ?)"
            " ON CONFLICT (chat_id, message_id) DO NOTHING",
            (chat_id, message_id, ref),
        )


async def mark_processed(db: Database, update_id: int) -> None:
    """An update handled without a stored effect: remembered, so it is not handled twice."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)"
            " ON CONFLICT (update_id) DO NOTHING",
            (update_id, to_db_time(utcnow())),
        )


async def was_processed(db: Database, update_id: int) -> bool:
    async with db.read() as tx:
        row = await tx.one("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,))
    return row is not None
