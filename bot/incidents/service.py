"""Incidents, their timelines, and which bot messages are about them.

Each write takes the caller's unit of work (bot.core.db): it checks, writes, records the change
on the timeline and bumps the incident's cards, all in that one transaction. What follows from
a change across other domains (a location that waiting requests need, a closing that ends the
requests) is bot.lifecycle's.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
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
    MediaItem,
    MediaSent,
    MessageLink,
    PersonRef,
    Revision,
    Role,
    Severity,
    TimelineEntry,
    TimelineKind,
)
from bot.core.text import clean_text
from bot.incidents import cards, media

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
        edited_at=from_db_time(row["edited_at"]) if row["edited_at"] else None,
    )


async def _with_earlier(tx: Tx, ref: int, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """The entries, the edited ones with their earlier wordings (one read, only if any is)."""
    if all(e.edited_at is None for e in entries):
        return entries
    rows = await tx.all(
        "SELECT r.entry_id, r.text, r.written_at, r.replaced_at FROM timeline_revisions r"
        " JOIN timeline t ON t.id = r.entry_id WHERE t.incident_id = ? ORDER BY r.id",
        (ref,),
    )
    earlier: dict[int, list[Revision]] = {}
    for row in rows:
        earlier.setdefault(row["entry_id"], []).append(
            Revision(
                text=row["text"],
                written_at=from_db_time(row["written_at"]),
                replaced_at=from_db_time(row["replaced_at"]),
            )
        )
    return [
        e.model_copy(update={"earlier": tuple(earlier[e.id])}) if e.id in earlier else e
        for e in entries
    ]


async def incident_in(tx: Tx, ref: int) -> Incident | None:
    row = await tx.one(_INCIDENT_SELECT + " WHERE i.id = ?", (ref,))
    return _incident(row) if row else None


async def open_incident_in(tx: Tx, ref: int) -> Incident:
    """The incident, if it exists and is open; else the refusal."""
    incident = await incident_in(tx, ref)
    if incident is None:
        raise UserError(N_("There is no incident #{ref}."), ref=ref)
    if not incident.is_open:
        raise UserError(N_("Incident #{ref} is closed."), ref=ref)
    return incident


async def record(
    unit: UnitOfWork,
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
    at: datetime | None = None,
) -> int:
    """A timeline entry (its id), at `at` (now by default); every card of the incident shows
    it, and the incident's updated_at becomes its time."""
    now = to_db_time(at or utcnow())
    if author is not None:
        await ensure_person(unit, author.id, author.name, author.username, author.language)
    entry_id = await unit.execute(
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
    await unit.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (now, ref))
    await cards.bump(unit, ref)
    return entry_id


async def _reloaded(tx: Tx, ref: int) -> Incident:
    incident = await incident_in(tx, ref)
    assert incident is not None
    return incident


async def declare(
    unit: UnitOfWork, *, chat: Chat, title: str, author: Author, exercise: bool
) -> Incident:
    title = clean_text(title, MAX_TITLE, N_("title"))
    await ensure_person(unit, author.id, author.name, author.username, author.language)
    person = await person_in(unit, author.id)
    # whoever declares as a commander commands until /assign says otherwise
    commander_id = author.id if person and Role.COMMANDER in person.roles else None
    now = to_db_time(utcnow())
    ref = await unit.execute(
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
    await cards.create(unit, ref, chat.id)
    await record(unit, ref, TimelineKind.DECLARED, author, chat.id, text=title)
    return await _reloaded(unit, ref)


async def add_note(
    unit: UnitOfWork,
    *,
    ref: int,
    text: str,
    author: Author,
    chat_id: int,
    message_id: int | None,
) -> Incident:
    text = clean_text(text, MAX_NOTE, N_("note"))
    incident = await open_incident_in(unit, ref)
    # the entry changes nothing of the incident but its updated_at: no need to read it again
    at = from_db_time(to_db_time(utcnow()))
    await record(
        unit, ref, TimelineKind.NOTE, author, chat_id, text=text, message_id=message_id, at=at
    )
    return incident.model_copy(update={"updated_at": at})


async def follow_edit(
    unit: UnitOfWork,
    *,
    chat_id: int,
    message_id: int,
    author: Author,
    text: str | None,
    edited_at: datetime,
) -> Incident | None:
    """Its author edited a message that is on a timeline (a note, a caption): the entry takes
    the new wording, marked as edited at `edited_at`, and the earlier one is kept. None, and
    nothing changed, when the message is on no timeline, the wording is the same (an edit of
    its formatting only, or one already followed), or the edit is older than one followed."""
    row = await unit.one(
        "SELECT id, incident_id, kind, author_id, text, at, edited_at FROM timeline"
        " WHERE chat_id = ? AND message_id = ? AND kind = ? ORDER BY id LIMIT 1",
        (chat_id, message_id, TimelineKind.NOTE.value),
    )
    item = None
    if row is None:
        # a caption: of a photo, a video … or of any item of an album (one entry for all)
        item = await media.of_message_in(unit, chat_id, message_id)
        if item is not None:
            row = await unit.one(
                "SELECT id, incident_id, kind, author_id, text, at, edited_at FROM timeline"
                " WHERE id = ?",
                (item.entry_id,),
            )
    if row is None or row["author_id"] != author.id:
        return None
    previous = from_db_time(row["edited_at"]) if row["edited_at"] else None
    if previous is not None and edited_at < previous:
        return None
    if TimelineKind(row["kind"]) is TimelineKind.NOTE:
        wording: str | None = clean_text(text or "", MAX_NOTE, N_("note"))
    else:  # a caption may be taken away; it is kept as a caption is when it arrives
        wording = media_caption(text)
    if wording == row["text"]:
        return None
    ref = row["incident_id"]
    await open_incident_in(unit, ref)
    await unit.execute(
        "INSERT INTO timeline_revisions (entry_id, text, written_at, replaced_at)"
        " VALUES (?, ?, ?, ?)",
        (row["id"], row["text"], row["edited_at"] or row["at"], to_db_time(edited_at)),
    )
    await unit.execute(
        "UPDATE timeline SET text = ?, edited_at = ? WHERE id = ?",
        (wording, to_db_time(edited_at), row["id"]),
    )
    if item is not None:  # the item too: the report describes each photo by its caption
        await media.edit_caption(unit, item.id, wording)
    await unit.execute(
        "UPDATE incidents SET updated_at = ? WHERE id = ?", (to_db_time(utcnow()), ref)
    )
    await cards.bump(unit, ref)
    return await _reloaded(unit, ref)


def media_caption(caption: str | None) -> str | None:
    """A caption as the timeline keeps it: printable, at most MAX_NOTE characters (Telegram's
    own limit is lower: an album's captions together may reach it), None when empty."""
    if caption is None:
        return None
    cleaned = "".join(ch for ch in caption if ch in "\n\t" or ch.isprintable()).strip()
    if len(cleaned) > MAX_NOTE:
        cleaned = cleaned[: MAX_NOTE - 1] + "…"
    return cleaned or None


async def add_media(
    unit: UnitOfWork,
    *,
    ref: int,
    sent: MediaSent,
    author: Author,
    chat_id: int,
) -> tuple[int, int | None]:
    """What the field sent, on the incident's timeline: a MEDIA entry with this item, or, for a
    later item of an album whose first item made an entry, one more item of that entry (the
    album's caption, wherever it comes, is the entry's text). (entry id, item id); the item id
    is None if this message was recorded already."""
    caption = media_caption(sent.caption)
    album = (
        await media.album_in(unit, chat_id, sent.media_group_id) if sent.media_group_id else None
    )
    if album is not None:
        entry_id, ref = album
        await ensure_person(unit, author.id, author.name, author.username, author.language)
        if caption is not None:
            row = await unit.one("SELECT text FROM timeline WHERE id = ?", (entry_id,))
            joined = caption if row is None or not row["text"] else f"{row['text']}\n{caption}"
            await unit.execute(
                "UPDATE timeline SET text = ? WHERE id = ?", (media_caption(joined), entry_id)
            )
        await unit.execute(
            "UPDATE incidents SET updated_at = ? WHERE id = ?", (to_db_time(utcnow()), ref)
        )
        await cards.bump(unit, ref)
    else:
        await open_incident_in(unit, ref)
        entry_id = await record(
            unit,
            ref,
            TimelineKind.MEDIA,
            author,
            chat_id,
            text=caption,
            field=sent.kind.value,
            lat=sent.lat,
            lon=sent.lon,
            message_id=sent.message_id,
        )
    item_id = await media.add(
        unit,
        entry_id=entry_id,
        ref=ref,
        chat_id=chat_id,
        author_id=author.id,
        sent=sent,
        caption=caption,
    )
    return entry_id, item_id


def check_coordinates(lat: float, lon: float) -> None:
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise UserError(N_("Those coordinates are not on Earth."))


async def locate(
    unit: UnitOfWork,
    *,
    ref: int,
    lat: float,
    lon: float,
    author: Author | None,
    chat_id: int | None,
    text: str | None = None,
    keep_text: bool = False,
    message_id: int | None = None,
) -> Incident:
    """The incident's coordinates (a shared location, or a named place), and the location's
    text when one is given; `keep_text`: only if the incident has none yet."""
    check_coordinates(lat, lon)
    value = clean_text(text, MAX_FIELD, N_("value")) if text is not None else None
    incident = await open_incident_in(unit, ref)
    if value is not None and not (keep_text and incident.location_text):
        await unit.execute("UPDATE incidents SET location_text = ? WHERE id = ?", (value, ref))
        await record(
            unit,
            ref,
            TimelineKind.FIELD,
            author,
            chat_id,
            field=IncidentField.LOCATION.value,
            text=value,
        )
    await unit.execute("UPDATE incidents SET lat = ?, lon = ? WHERE id = ?", (lat, lon, ref))
    await record(
        unit, ref, TimelineKind.LOCATION, author, chat_id, lat=lat, lon=lon, message_id=message_id
    )
    return await _reloaded(unit, ref)


async def change_status(
    unit: UnitOfWork, *, ref: int, status: IncidentStatus, author: Author, chat_id: int
) -> Incident:
    """Reported, active, contained. Closing is more than a status: bot.lifecycle.closing."""
    assert status is not IncidentStatus.CLOSED, "closing is bot.lifecycle.closing's"
    incident = await open_incident_in(unit, ref)
    if incident.status is not status:
        await unit.execute("UPDATE incidents SET status = ? WHERE id = ?", (status.value, ref))
        await record(unit, ref, TimelineKind.STATUS, author, chat_id, text=status.value)
    return await _reloaded(unit, ref)


async def change_severity(
    unit: UnitOfWork, *, ref: int, severity: Severity, author: Author, chat_id: int
) -> Incident:
    incident = await open_incident_in(unit, ref)
    if incident.severity is not severity:
        await unit.execute("UPDATE incidents SET severity = ? WHERE id = ?", (severity.value, ref))
        await record(unit, ref, TimelineKind.SEVERITY, author, chat_id, text=severity.value)
    return await _reloaded(unit, ref)


_TEXT_COLUMNS = {
    IncidentField.TITLE: ("title", MAX_TITLE),
    IncidentField.TYPE: ("type", MAX_FIELD),
    IncidentField.LOCATION: ("location_text", MAX_FIELD),
}


async def change_text(
    unit: UnitOfWork,
    *,
    ref: int,
    field: IncidentField,
    value: str,
    author: Author,
    chat_id: int,
) -> Incident:
    """/set title|type|location: free text fields."""
    column, limit = _TEXT_COLUMNS[field]
    value = clean_text(value, limit, N_("value"))
    await open_incident_in(unit, ref)
    await unit.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (value, ref))
    await record(unit, ref, TimelineKind.FIELD, author, chat_id, field=field.value, text=value)
    return await _reloaded(unit, ref)


_ASSIGNMENT_COLUMN = {
    Assignment.COMMANDER: "commander_id",
    Assignment.SPOKESPERSON: "spokesperson_id",
    Assignment.LIAISON: "liaison_id",
}


async def assign(
    unit: UnitOfWork,
    *,
    ref: int,
    assignment: Assignment,
    assignee: Author,
    author: Author,
    chat_id: int,
) -> Incident:
    column = _ASSIGNMENT_COLUMN[assignment]
    await open_incident_in(unit, ref)
    await ensure_person(unit, assignee.id, assignee.name, assignee.username)
    await unit.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (assignee.id, ref))
    person = await person_in(unit, assignee.id)
    name = person.name if person else assignee.name
    await record(
        unit, ref, TimelineKind.ASSIGNED, author, chat_id, field=assignment.value, text=name
    )
    return await _reloaded(unit, ref)


async def close(unit: UnitOfWork, *, ref: int, author: Author, chat_id: int) -> Incident:
    """The incident's own part of closing it (bot.lifecycle.closing does the rest)."""
    await open_incident_in(unit, ref)
    now = to_db_time(utcnow())
    await unit.execute(
        "UPDATE incidents SET status = ?, closed_at = ? WHERE id = ?",
        (IncidentStatus.CLOSED.value, now, ref),
    )
    await record(unit, ref, TimelineKind.CLOSED, author, chat_id)
    return await _reloaded(unit, ref)


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its incidents and timeline follow it; replies to the old
    group's messages are forgotten (message ids do not carry over)."""
    await unit.execute("UPDATE incidents SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
    await unit.execute("UPDATE timeline SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
    await unit.execute("DELETE FROM incident_messages WHERE chat_id = ?", (old_id,))
    await media.follow_chat(unit, old_id, new_id)


# --- reading -------------------------------------------------------------------------------


async def get(db: Database, ref: int) -> Incident | None:
    async with db.read() as tx:
        return await incident_in(tx, ref)


async def latest_open_in(tx: Tx, chat_id: int) -> Incident | None:
    row = await tx.one(
        _INCIDENT_SELECT + " WHERE i.chat_id = ? AND i.status != ? ORDER BY i.id DESC LIMIT 1",
        (chat_id, IncidentStatus.CLOSED.value),
    )
    return _incident(row) if row else None


async def latest_open(db: Database, chat_id: int) -> Incident | None:
    async with db.read() as tx:
        return await latest_open_in(tx, chat_id)


async def latest_in(tx: Tx, chat_id: int) -> Incident | None:
    """The chat's most recent incident, open or closed."""
    row = await tx.one(
        _INCIDENT_SELECT + " WHERE i.chat_id = ? ORDER BY i.id DESC LIMIT 1", (chat_id,)
    )
    return _incident(row) if row else None


async def open_in_chat_in(tx: Tx, chat_id: int) -> list[Incident]:
    rows = await tx.all(
        _INCIDENT_SELECT + " WHERE i.chat_id = ? AND i.status != ? ORDER BY i.id",
        (chat_id, IncidentStatus.CLOSED.value),
    )
    return [_incident(row) for row in rows]


async def open_in_chat(db: Database, chat_id: int) -> list[Incident]:
    async with db.read() as tx:
        return await open_in_chat_in(tx, chat_id)


async def open_everywhere_in(tx: Tx) -> list[Incident]:
    rows = await tx.all(
        _INCIDENT_SELECT + " WHERE i.status != ? ORDER BY i.id", (IncidentStatus.CLOSED.value,)
    )
    return [_incident(row) for row in rows]


async def open_everywhere(db: Database) -> list[Incident]:
    async with db.read() as tx:
        return await open_everywhere_in(tx)


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
    return await _with_earlier(
        tx, ref, await with_media(tx, [_entry(row) for row in reversed(rows)])
    )


async def whole_timeline_in(tx: Tx, ref: int) -> list[TimelineEntry]:
    """Every entry, oldest first: an entry's number in the timeline is its place here (from 1),
    the same in /timeline, on the map and in the report."""
    rows = await tx.all(
        "SELECT t.*, p.name AS author_name FROM timeline t"
        " LEFT JOIN people p ON p.id = t.author_id"
        " WHERE t.incident_id = ? ORDER BY t.id",
        (ref,),
    )
    return await _with_earlier(tx, ref, await with_media(tx, [_entry(row) for row in rows]))


async def with_media(tx: Tx, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """The entries, each MEDIA entry with its items (whoever reads a timeline: call this)."""
    wanted: dict[int, list[int]] = {}
    for entry in entries:
        if entry.kind is TimelineKind.MEDIA:
            wanted.setdefault(entry.incident_ref, []).append(entry.id)
    if not wanted:
        return entries
    found: dict[int, list[MediaItem]] = {}
    for ref, ids in wanted.items():
        found.update(await media.of_entries_in(tx, ref, ids))
    return [
        entry.model_copy(update={"media": tuple(found[entry.id])}) if entry.id in found else entry
        for entry in entries
    ]


async def timelines_in(tx: Tx, refs: list[int], last: int) -> dict[int, list[TimelineEntry]]:
    return {ref: await timeline_in(tx, ref, last) for ref in refs}


# --- which bot messages are about which incident ------------------------------------------

_LINK = (
    "INSERT INTO incident_messages (chat_id, message_id, incident_id, purpose, subject_id)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING"
)


async def link_message(
    tx: Tx,
    chat_id: int,
    message_id: int,
    ref: int,
    purpose: str | None = None,
    subject_id: int | None = None,
) -> None:
    """A bot message about the incident: a reply to it reaches the incident (its timeline,
    or what `purpose` says: a request card, an evaluation question)."""
    await tx.execute(_LINK, (chat_id, message_id, ref, purpose, subject_id))


def link_message_later(db: Database, chat_id: int, message_id: int, ref: int) -> None:
    """The same for an answer just sent: stored with the next unit of work, not in a
    transaction of its own."""
    db.defer(_LINK, (chat_id, message_id, ref, "answer", None))


async def message_link(tx: Tx, chat_id: int, message_id: int) -> MessageLink | None:
    """What a bot message in this chat is about, if anything."""
    row = await tx.one(
        "SELECT incident_id, purpose, subject_id FROM incident_messages"
        " WHERE chat_id = ? AND message_id = ?",
        (chat_id, message_id),
    )
    if row is None:
        return None
    return MessageLink(row["incident_id"], row["purpose"], row["subject_id"])
