"""The items of media entries on the timeline (the `media_items` table): what the field sent,
a file's Telegram reference and what it is (size, duration, dimensions), or a shared contact
or venue. An album is one timeline entry with several items.

Below bot.incidents.service (which records the entry and reads the items with it); what is
done with the files (kept as evidence) is bot.evidence's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.core.db import Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.models import MediaItem, MediaKind, MediaSent, PersonRef

_SELECT = (
    "SELECT m.*, p.name AS author_name FROM media_items m LEFT JOIN people p ON p.id = m.author_id"
)


def _item(row: Row) -> MediaItem:
    return MediaItem(
        id=row["id"],
        entry_id=row["entry_id"],
        incident_ref=row["incident_id"],
        kind=MediaKind(row["kind"]),
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        media_group_id=row["media_group_id"],
        author=PersonRef(id=row["author_id"], name=row["author_name"])
        if row["author_id"]
        else None,
        caption=row["caption"],
        file_id=row["file_id"],
        file_unique_id=row["file_unique_id"],
        file_size=row["file_size"],
        duration=row["duration"],
        width=row["width"],
        height=row["height"],
        mime_type=row["mime_type"],
        file_name=row["file_name"],
        name=row["name"],
        phone=row["phone"],
        address=row["address"],
        lat=row["lat"],
        lon=row["lon"],
        at=from_db_time(row["at"]),
    )


async def add(
    unit: UnitOfWork,
    *,
    entry_id: int,
    ref: int,
    chat_id: int,
    author_id: int | None,
    sent: MediaSent,
    caption: str | None,
) -> int | None:
    """One item of the entry; None if this message's item is there already."""
    rows = await unit.all(
        "INSERT INTO media_items (entry_id, incident_id, chat_id, message_id, media_group_id,"
        " kind, author_id, caption, file_id, file_unique_id, file_size, duration, width,"
        " height, mime_type, file_name, name, phone, address, lat, lon, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (chat_id, message_id) DO NOTHING RETURNING id",
        (
            entry_id,
            ref,
            chat_id,
            sent.message_id,
            sent.media_group_id,
            sent.kind.value,
            author_id,
            caption,
            sent.file_id,
            sent.file_unique_id,
            sent.file_size,
            sent.duration,
            sent.width,
            sent.height,
            sent.mime_type,
            sent.file_name,
            sent.name,
            sent.phone,
            sent.address,
            sent.lat,
            sent.lon,
            to_db_time(utcnow()),
        ),
    )
    return int(rows[0]["id"]) if rows else None


async def edit_caption(unit: UnitOfWork, item_id: int, caption: str | None) -> None:
    """Its author edited the item's caption (the timeline keeps the earlier wording)."""
    await unit.execute("UPDATE media_items SET caption = ? WHERE id = ?", (caption, item_id))


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its items follow it (albums in the old chat are done)."""
    await unit.execute("UPDATE media_items SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))


async def album_in(tx: Tx, chat_id: int, media_group_id: str) -> tuple[int, int] | None:
    """The entry an album's first item made: (entry id, incident ref)."""
    row = await tx.one(
        "SELECT entry_id, incident_id FROM media_items WHERE chat_id = ? AND media_group_id = ?"
        " ORDER BY id LIMIT 1",
        (chat_id, media_group_id),
    )
    return (row["entry_id"], row["incident_id"]) if row else None


async def of_message_in(tx: Tx, chat_id: int, message_id: int) -> MediaItem | None:
    """The item a message in a chat became, if any (an edited caption finds its entry)."""
    row = await tx.one(_SELECT + " WHERE m.chat_id = ? AND m.message_id = ?", (chat_id, message_id))
    return _item(row) if row else None


async def item_in(tx: Tx, item_id: int) -> MediaItem | None:
    row = await tx.one(_SELECT + " WHERE m.id = ?", (item_id,))
    return _item(row) if row else None


async def of_entries_in(tx: Tx, ref: int, entry_ids: Iterable[int]) -> dict[int, list[MediaItem]]:
    """The items of these entries of the incident, by entry, each in the order they arrived."""
    ids = set(entry_ids)
    if not ids:
        return {}
    rows = await tx.all(
        _SELECT + " WHERE m.incident_id = ? AND m.entry_id BETWEEN ? AND ? ORDER BY m.id",
        (ref, min(ids), max(ids)),
    )
    found: dict[int, list[MediaItem]] = {}
    for row in rows:
        if row["entry_id"] in ids:
            found.setdefault(row["entry_id"], []).append(_item(row))
    return found


async def of_incident_in(tx: Tx, ref: int) -> list[MediaItem]:
    """Every item of the incident, oldest first."""
    rows = await tx.all(_SELECT + " WHERE m.incident_id = ? ORDER BY m.id", (ref,))
    return [_item(row) for row in rows]


async def counts_in(tx: Tx, ref: int) -> dict[MediaKind, int]:
    """How many items of each kind the incident's timeline holds (the card's 📷 3 · 🎙 1)."""
    rows = await tx.all(
        "SELECT kind, COUNT(*) AS n FROM media_items WHERE incident_id = ? GROUP BY kind", (ref,)
    )
    return {MediaKind(row["kind"]): int(row["n"]) for row in rows}


def ordered(counts: dict[MediaKind, int]) -> Sequence[tuple[MediaKind, int]]:
    """The counts in the order of MediaKind (photos first)."""
    return [(kind, counts[kind]) for kind in MediaKind if counts.get(kind)]
