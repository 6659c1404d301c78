"""What the field sends, recorded and kept: a photo, video, voice note, audio file or document
(or a shared contact or venue) joins the incident's timeline in the update's unit of work, and
each file is queued there for the keeper to download (bot.evidence.keeper).

Reading, for the report and its export: `files_in` lists an incident's files with what became
of each (kept: path, SHA-256, size; or why not)."""

from __future__ import annotations

from pathlib import Path

from bot.core.config import Settings
from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time
from bot.core.models import Author, KeepStatus, KeptFile, MediaItem, MediaSent
from bot.evidence import keeper
from bot.incidents import media
from bot.incidents import service as incidents


async def record(
    unit: UnitOfWork, *, ref: int, sent: MediaSent, author: Author, chat_id: int
) -> int | None:
    """On the incident's timeline (a later item of an album: on the album's entry), its file
    queued for download. The item's id; None if this message was recorded already."""
    _, item_id = await incidents.add_media(unit, ref=ref, sent=sent, author=author, chat_id=chat_id)
    if item_id is not None and sent.kind.has_file and sent.file_id:
        await keeper.enqueue(unit, item_id=item_id, file_size=sent.file_size)
    return item_id


async def album_in(tx: Tx, chat_id: int, media_group_id: str) -> int | None:
    """The incident an album already joined (its first item did), if any."""
    found = await media.album_in(tx, chat_id, media_group_id)
    return found[1] if found else None


def _kept(item: MediaItem, row: Row | None) -> KeptFile:
    if row is None:  # recorded before its download row (not done by this code): waiting
        return KeptFile(item, KeepStatus.PENDING, None, None, None, None, 0, None)
    return KeptFile(
        item=item,
        status=KeepStatus(row["status"]),
        path=row["path"],
        sha256=row["sha256"],
        size=row["size"],
        reason=row["reason"],
        attempts=row["attempts"],
        done_at=from_db_time(row["done_at"]) if row["done_at"] else None,
    )


async def files_in(tx: Tx, ref: int) -> list[KeptFile]:
    """Every file sent to the incident's timeline, oldest first, with what became of it.
    Contacts and venues (no file) are not in it: they are in the timeline's entries."""
    items = [item for item in await media.of_incident_in(tx, ref) if item.kind.has_file]
    rows = {
        row["item_id"]: row
        for row in await tx.all(
            "SELECT d.* FROM media_downloads d JOIN media_items m ON m.id = d.item_id"
            " WHERE m.incident_id = ?",
            (ref,),
        )
    }
    return [_kept(item, rows.get(item.id)) for item in items]


async def files(db: Database, ref: int) -> list[KeptFile]:
    """files_in, read apart (a report)."""
    async with db.read_apart() as tx:
        return await files_in(tx, ref)


def folder(settings: Settings) -> Path:
    """The evidence folder (`[evidence] dir`)."""
    return keeper.folder(settings)


def kept_path(settings: Settings, kept: KeptFile) -> Path | None:
    """Where a kept file is on disk; None if it was not kept."""
    if kept.status is not KeepStatus.KEPT or kept.path is None:
        return None
    return keeper.folder(settings) / kept.path
