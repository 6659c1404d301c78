"""The download queue (the `media_downloads` table) and its worker, the keeper: each file on
the timeline is downloaded in the background into the evidence folder, its SHA-256 and size
recorded. Like the outbox: a row is queued in the transaction that records the item, so it
exists exactly when the item does; the keeper claims due rows, retries failures with backoff,
and picks up after a restart what a stop or a crash left.

Several instances share one queue as they share the outbox: each claims the rows it downloads
(`claimed_by`, and `claimed_until` CLAIM_SECONDS ahead) in the database server's time
(Database.now). An instance that starts takes back at once what it (this name) had claimed and
what an instance whose heartbeat stopped had claimed; the downloads of the other instances
alive stay theirs. The evidence folder must then be one folder all the instances reach.

What becomes of each file: kept; too big (over the Bot API's 20 MB download limit: never
asked for); cap (the folder reached `[evidence] max_total_mb`: one log line per file, the
liaisons told once per incident); failed (retried `[evidence] attempts` times in all, then
given up, the reason recorded).

Kept once: the file is written to a temporary name, flushed, then renamed to its final name,
and only then recorded. A crash before the rename downloads it again at restart; a crash after
it finds the file there and records it without downloading it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol

from bot.cluster.members import RELEASABLE_CLAIMS, releasable_claims
from bot.core import directory
from bot.core.config import Settings
from bot.core.db import Database, Row, StorageLost, UnitOfWork, to_db_time
from bot.core.effects import Effects
from bot.core.models import KeepStatus, MediaKind
from bot.delivery import outbox
from bot.delivery.files import BOT_API_DOWNLOAD_LIMIT, FetchFailed, FileGone, FileTooBig
from bot.render.media import render_evidence_full

log = logging.getLogger(__name__)

CLAIM_SECONDS = 300  # a keeper is working on a row until then (a 20 MB download included)
LONGEST_RETRY = 600.0  # seconds
MB = 1024 * 1024
TOO_BIG = "over the Bot API's download limit of 20 MB"
CAP = "the evidence folder reached its size limit"

# Extensions when neither the file's name nor its type gives one.
_EXTENSION = {
    MediaKind.PHOTO: ".jpg",
    MediaKind.VIDEO: ".mp4",
    MediaKind.VIDEO_NOTE: ".mp4",
    MediaKind.VOICE: ".ogg",
    MediaKind.AUDIO: ".mp3",
    MediaKind.DOCUMENT: ".bin",
}


class Fetch(Protocol):
    """The file's bytes by its Telegram file id (bot.delivery.files.TelegramFiles.fetch):
    FileTooBig, FileGone or FetchFailed when it cannot."""

    async def __call__(self, file_id: str) -> bytes: ...


def folder(settings: Settings) -> Path:
    """The evidence folder: `[evidence] dir`, relative to the database's folder; by default a
    folder named after the database, beside it."""
    database = Path(settings.storage.path)
    if settings.evidence.dir:
        return database.parent / settings.evidence.dir
    return database.parent / f"{database.stem}-media"


async def enqueue(unit: UnitOfWork, *, item_id: int, file_size: int | None) -> None:
    """Queue the download of an item's file in the caller's unit of work. A file Telegram says
    is over the Bot API's limit is recorded as too big at once, never asked for."""
    now = to_db_time(unit.now())
    if file_size is not None and file_size > BOT_API_DOWNLOAD_LIMIT:
        await unit.execute(
            "INSERT INTO media_downloads (item_id, status, not_before, reason, created_at,"
            " done_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO NOTHING",
            (item_id, KeepStatus.TOO_BIG.value, now, TOO_BIG, now, now),
        )
        log.info("event=evidence_too_big item=%d size=%d", item_id, file_size)
        return
    await unit.execute(
        "INSERT INTO media_downloads (item_id, not_before, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (item_id) DO NOTHING",
        (item_id, now, now),
    )
    unit.effects.files = True


def file_name(row: Row) -> str:
    """Where an item's file is kept, relative to the folder: <incident>/<item>-<kind><ext>."""
    kind = MediaKind(row["kind"])
    suffix = PurePosixPath(row["file_name"] or "").suffix.lower()
    if not suffix or len(suffix) > 10 or not suffix[1:].isalnum():
        suffix = (
            (mimetypes.guess_extension(row["mime_type"] or "") or "") if row["mime_type"] else ""
        )
    return f"{row['incident_id']}/{row['item_id']}-{kind.value}{suffix or _EXTENSION[kind]}"


def _write(target: Path, data: bytes) -> str:
    """Write the file under a temporary name, flush it, rename it: its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)
    return hashlib.sha256(data).hexdigest()


def _digest(target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(target, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


_DUE = (
    "SELECT d.item_id, d.attempts, m.incident_id, m.kind, m.file_id, m.file_size,"
    " m.mime_type, m.file_name FROM media_downloads d JOIN media_items m ON m.id = d.item_id"
    " WHERE d.status = 'pending' AND d.not_before <= ?"
    " AND (d.claimed_until IS NULL OR d.claimed_until < ?) ORDER BY d.item_id LIMIT ?"
)


class Keeper:
    """Works through the download queue: a few files at a time, never holding up updates."""

    def __init__(
        self,
        db: Database,
        fetch: Fetch,
        settings: Settings,
        *,
        apply: Callable[[Effects], Awaitable[None]],
        concurrency: int = 3,
        poll_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._fetch = fetch
        self._folder = folder(settings)
        self._evidence = settings.evidence
        self._instance = settings.instance.name
        self._apply = apply
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._working: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._reserved = 0  # bytes of downloads under way, counted against the cap

    @property
    def folder(self) -> Path:
        return self._folder

    def wake(self) -> None:
        """Files were queued: start on them now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        """Start keeping. What was queued before a stop or a crash is due at once: what this
        instance (this name) had claimed, what an instance whose heartbeat stopped had claimed,
        what nobody claimed; the claims of the other instances alive are theirs until they run
        out."""
        now = self._db.now()
        async with self._db.unit() as unit:
            await unit.execute(
                "UPDATE media_downloads SET claimed_until = NULL, claimed_by = NULL,"
                " not_before = ? WHERE status = 'pending' AND " + RELEASABLE_CLAIMS,
                (to_db_time(now), *releasable_claims(self._instance, now)),
            )
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="evidence-keeper")

    async def stop(self) -> None:
        """Stop; a download under way is abandoned and done again after restart."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        working = list(self._working)
        for task in working:
            task.cancel()
        await asyncio.gather(*working, return_exceptions=True)

    async def drained(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until nothing is due and nothing is under way (tests, the demo)."""
        async with asyncio.timeout(timeout):
            while True:
                self.wake()
                await asyncio.sleep(0.01)
                await self._idle.wait()
                if not self._working and not await self._due(1):
                    return

    async def _due(self, limit: int) -> list[Row]:
        now = to_db_time(self._db.now())
        async with self._db.read() as tx:
            return await tx.all(_DUE, (now, now, limit))

    async def _claim(self, limit: int) -> list[Row]:
        now = self._db.now()
        until = to_db_time(now + timedelta(seconds=CLAIM_SECONDS))
        claimed = []
        async with self._db.unit() as unit:
            for row in await unit.all(_DUE, (to_db_time(now), to_db_time(now), limit)):
                got = await unit.execute(
                    "UPDATE media_downloads SET claimed_until = ?, claimed_by = ?"
                    " WHERE item_id = ? AND status = 'pending'"
                    " AND (claimed_until IS NULL OR claimed_until < ?)",
                    (until, self._instance, row["item_id"], to_db_time(now)),
                )
                if got:
                    claimed.append(row)
        return claimed

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._idle.clear()
            free = self._concurrency - len(self._working)
            rows: list[Row] = []
            if free > 0:
                try:
                    rows = await self._claim(free)
                except StorageLost as exc:  # logged once by the database (event=storage_lost)
                    log.debug("event=evidence_claim_failed error=%s", exc)
                except Exception:
                    log.exception("event=evidence_claim_failed")
            for row in rows:
                task = asyncio.create_task(self._keep(row))
                self._working.add(task)
                task.add_done_callback(self._done)
            if not self._working:
                self._idle.set()
            try:
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _done(self, task: asyncio.Task[None]) -> None:
        self._working.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event=evidence_keep_error error=%r", task.exception())
        self._wake.set()

    async def _keep(self, row: Row) -> None:
        relative = file_name(row)
        target = self._folder / relative
        reserved = 0  # bytes this download holds of the cap until it is recorded
        try:
            if target.exists():
                # kept before a crash that came before its record: not downloaded again
                sha256, size = await asyncio.to_thread(_digest, target)
                await self._kept(row, relative, sha256, size)
                return
            expected = row["file_size"] or 0
            if await self._over_cap(row, expected):
                return
            reserved = expected
            self._reserved += reserved
            data = await self._fetch(row["file_id"])
            if len(data) > reserved:
                self._reserved -= reserved
                reserved = 0
                if await self._over_cap(row, len(data)):
                    return
                reserved = len(data)
                self._reserved += reserved
            sha256 = await asyncio.to_thread(_write, target, data)
            await self._kept(row, relative, sha256, len(data))
        except FileTooBig as exc:
            await self._end(row, KeepStatus.TOO_BIG, f"{TOO_BIG} ({exc})")
        except (FileGone, FetchFailed, OSError) as exc:
            await self._retry(row, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("event=evidence_error item=%d", row["item_id"])
            await self._retry(row, repr(exc))
        finally:
            self._reserved -= reserved

    async def _over_cap(self, row: Row, size: int) -> bool:
        """Whether keeping `size` more bytes would take the folder past its cap: if so, the
        file is recorded as not kept, the log says so, and the liaisons are told (once per
        incident)."""
        cap_mb = self._evidence.max_total_mb
        if cap_mb <= 0:
            return False
        async with self._db.read() as tx:
            total = await tx.one(
                "SELECT COALESCE(SUM(size), 0) AS kept FROM media_downloads WHERE status = ?",
                (KeepStatus.KEPT.value,),
            )
        kept = (int(total["kept"]) if total else 0) + self._reserved
        if kept + size <= cap_mb * MB:
            return False
        log.warning(
            "event=evidence_cap_reached item=%d incident=%d kept_mb=%.1f size_mb=%.1f"
            " cap_mb=%g: the file is recorded on the timeline but not kept",
            row["item_id"],
            row["incident_id"],
            kept / MB,
            size / MB,
            cap_mb,
        )
        async with self._db.unit() as unit:
            await self._mark(unit, row, KeepStatus.CAP, CAP)
            for chat in await directory.liaison_chats(unit):
                await outbox.enqueue(
                    unit,
                    chat_id=chat.id,
                    html=render_evidence_full(row["incident_id"], cap_mb, chat.languages),
                    purpose="notice",
                    incident_ref=row["incident_id"],
                    key=f"evidence-cap:{row['incident_id']}:{chat.id}",
                )
        await self._apply(unit.effects)
        return True

    async def _mark(
        self,
        unit: UnitOfWork,
        row: Row,
        status: KeepStatus,
        reason: str | None,
        *,
        path: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
    ) -> None:
        await unit.execute(
            "UPDATE media_downloads SET status = ?, reason = ?, path = ?, sha256 = ?, size = ?,"
            " attempts = attempts + 1, claimed_until = NULL, claimed_by = NULL, done_at = ?"
            " WHERE item_id = ?",
            (status.value, reason, path, sha256, size, to_db_time(unit.now()), row["item_id"]),
        )

    async def _kept(self, row: Row, relative: str, sha256: str, size: int) -> None:
        async with self._db.unit() as unit:
            await self._mark(
                unit, row, KeepStatus.KEPT, None, path=relative, sha256=sha256, size=size
            )
            # the situation board shows the photo once it is kept
            unit.effects.incidents.add(row["incident_id"])
        await self._apply(unit.effects)
        log.info(
            "event=evidence_kept item=%d incident=%d size=%d sha256=%s",
            row["item_id"],
            row["incident_id"],
            size,
            sha256,
        )

    async def _end(self, row: Row, status: KeepStatus, reason: str) -> None:
        async with self._db.unit() as unit:
            await self._mark(unit, row, status, reason[:500])
        log.warning(
            "event=evidence_not_kept item=%d status=%s reason=%s",
            row["item_id"],
            status.value,
            reason,
        )

    async def _retry(self, row: Row, error: str) -> None:
        attempts = row["attempts"] + 1
        if attempts >= self._evidence.attempts:
            await self._end(row, KeepStatus.FAILED, f"gave up after {attempts} attempts: {error}")
            return
        delay = min(self._evidence.first_retry * 2 ** (attempts - 1), LONGEST_RETRY)
        async with self._db.unit() as unit:
            await unit.execute(
                "UPDATE media_downloads SET attempts = ?, not_before = ?, reason = ?,"
                " claimed_until = NULL, claimed_by = NULL WHERE item_id = ?",
                (
                    attempts,
                    to_db_time(self._db.now() + timedelta(seconds=delay)),
                    error[:500],
                    row["item_id"],
                ),
            )
        log.warning(
            "event=evidence_retry item=%d attempt=%d in=%.1fs error=%s",
            row["item_id"],
            attempts,
            delay,
            error,
        )
