"""Backups of the SQLite database: taken while the bot runs, checked, kept, and put back.

`take` copies the database with SQLite's online backup API into
`<folder>/<stem>-<UTC time>.db` (passerelle-20261130T193312Z.db). The copy reads one
snapshot: its connection holds a read transaction for the whole copy, which the backup's
steps (`STEP_PAGES` pages each) all use, so a write by the bot between two steps never makes
the copy start over, and nothing is half in it. The bot's database is in WAL mode, where a
reader never holds the writer: updates are served meanwhile (only checkpoints wait for the
copy's snapshot to end). The copy is written under a hidden temporary name, made a
self-contained file (journal mode DELETE, no -wal beside it), checked with PRAGMA
integrity_check, flushed to disk, and only then renamed to its final name: a file with a
backup's name is always a whole, verified backup. Its schema version (PRAGMA user_version)
is inside it and reported.

`prune` keeps the newest `keep` backups of a folder. `Schedule` takes them in the running
bot (`[storage] backup_every`, `backup_keep`), in a thread, never on the event loop.

`restore` puts a backup back: the file is copied beside the database under a temporary name
and checked there (a SQLite database, integrity_check, Passerelle's tables, a schema version
not ahead of this code: older ones are migrated at the next start); then, holding the
database's lock exclusively (bot.core.inuse: no bot nor command has it open), the current
database and its -wal are renamed aside with a timestamp, and the copy renamed into place.
Nothing is overwritten, and a stale write-ahead log never meets the restored file.

Only the database: the evidence folder's files (photos, documents) are copied with ordinary
tools (README, "Backups"). PostgreSQL has its own tools (pg_dump, pg_basebackup).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core import inuse
from bot.core.db.dialect import latest_version

log = logging.getLogger(__name__)

# Pages copied per step of the backup API (4 MB of 4 KB pages): between steps the thread
# lets others run and an abandoned backup (the bot stopping) ends.
STEP_PAGES = 1024
STAMP = "%Y%m%dT%H%M%SZ"
SQLITE_HEADER = b"SQLite format 3\x00"
# leftover temporary files (a process killed mid-copy) older than this are removed by prune
STALE_PARTIAL = timedelta(hours=1)
# the table every Passerelle database has (migration 0001)
KNOWN_TABLE = "incidents"


class BackupError(Exception):
    """A backup could not be taken; one line for the admin or the log."""


class RestoreRefused(Exception):
    """The file is not put back; one line saying why."""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime
    schema_version: int
    size: int
    seconds: float


@dataclass(frozen=True)
class Restored:
    database: Path
    schema_version: int
    incidents: int
    open_incidents: int
    # where the database that was there is kept (None: there was none)
    aside: Path | None


def latest_schema_version() -> int:
    """The schema version this code migrates to (the highest migration's number)."""
    return latest_version()


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- taking ----------------------------------------------------------------------------------


def _name_pattern(database: Path) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(database.stem)}-(\d{{8}}T\d{{6}}Z)(?:-(\d+))?\.db")


def backups_in(folder: Path, database: Path) -> list[tuple[datetime, Path]]:
    """The backups of `database` in `folder` (by their names), oldest first."""
    pattern = _name_pattern(database)
    found: list[tuple[datetime, int, Path]] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file():
            moment = datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)
            found.append((moment, int(match.group(2) or 0), entry))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(moment, path) for moment, _, path in found]


def _free_name(folder: Path, database: Path, moment: datetime) -> Path:
    stamp = moment.astimezone(UTC).strftime(STAMP)
    path = folder / f"{database.stem}-{stamp}.db"
    n = 1
    while path.exists():
        path = folder / f"{database.stem}-{stamp}-{n}.db"
        n += 1
    return path


_PARTIAL = re.compile(r"\.(.+\.db)\.[0-9a-f]{8}\.partial")


class _Abandoned(Exception):
    pass


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot create nor change the file."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _copy(
    source_path: Path,
    target: Path,
    *,
    step_pages: int = STEP_PAGES,
    cancel: threading.Event | None = None,
) -> None:
    """One snapshot of `source_path` into the new file `target` (backup API, in steps), made
    a self-contained file (no -wal) and flushed to disk."""
    source = _read_only(source_path)
    with closing(source):
        source.execute("PRAGMA busy_timeout = 5000")
        # the read transaction every step uses: one snapshot, however long the copy takes
        source.execute("BEGIN")
        source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()

        def step(status: int, remaining: int, total: int) -> None:
            if cancel is not None and cancel.is_set():
                raise _Abandoned
            time.sleep(0)  # let the bot's threads run between steps

        with closing(sqlite3.connect(target, isolation_level=None)) as copy:
            source.backup(copy, pages=step_pages, progress=step)
            source.execute("COMMIT")
            copy.execute("PRAGMA journal_mode = DELETE")
    _fsync(target)


def _verify(path: Path) -> tuple[str | None, int]:
    """(the first problem integrity_check finds or None, the schema version)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check(10)").fetchall()]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    # its lines joined: "*** in database main ***\nOn tree page 7 …" is one line for the admin
    problem = " ".join(" ".join(str(line).split()) for line in verdict)
    return (None if verdict == ["ok"] else problem), version


def take(
    database: Path,
    folder: Path,
    *,
    now: datetime | None = None,
    step_pages: int = STEP_PAGES,
    cancel: threading.Event | None = None,
) -> Backup:
    """A consistent, verified copy of `database` in `folder` (created if need be), while the
    bot may run. BackupError (one line) if it cannot be taken; nothing with a backup's name
    is left then."""
    started = time.monotonic()
    if not database.is_file():
        raise BackupError(f"{database}: no database there, nothing to back up")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"{folder}: cannot be created ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise BackupError(f"{folder}: not a directory")
    moment = now or _utcnow()
    final = _free_name(folder, database, moment)
    # hidden, and this process's own: a copy under way elsewhere is never touched
    partial = folder / f".{final.name}.{uuid.uuid4().hex[:8]}.partial"
    try:
        _copy(database, partial, step_pages=step_pages, cancel=cancel)
        problem, version = _verify(partial)
        if problem is not None:
            raise BackupError(f"{final}: the copy fails its integrity check ({problem})")
        size = partial.stat().st_size
        os.replace(partial, final)
        _fsync_dir(folder)
    except _Abandoned:
        raise BackupError(f"{final}: abandoned (the bot is stopping)") from None
    except sqlite3.Error as exc:
        raise BackupError(f"{database}: cannot be copied ({exc})") from None
    except OSError as exc:
        raise BackupError(f"{folder}: cannot be written ({exc.strerror or exc})") from None
    finally:
        with suppress(OSError):
            partial.unlink(missing_ok=True)
    return Backup(final, moment, version, size, time.monotonic() - started)


def prune(folder: Path, database: Path, keep: int, *, now: datetime | None = None) -> list[Path]:
    """Delete all but the newest `keep` backups of `database` in `folder`, and temporary
    files a killed copy left there; what was deleted."""
    gone = []
    backups = backups_in(folder, database)
    for _, path in backups[: max(len(backups) - keep, 0)]:
        with suppress(FileNotFoundError):
            path.unlink()
        gone.append(path)
    cutoff = (now or _utcnow()).timestamp() - STALE_PARTIAL.total_seconds()
    pattern = _name_pattern(database)
    for entry in folder.glob(f".{database.stem}-*.partial"):
        named = _PARTIAL.fullmatch(entry.name)
        if named and pattern.fullmatch(named.group(1)):
            with suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    gone.append(entry)
    return gone


class Schedule:
    """Backups taken by the running bot every `every`, the newest `keep` kept. The first is
    due `every` after the newest backup already in the folder (a bot restarted often still
    takes them), never sooner than `first_after` after the start. A failed backup is one log
    line; the next is tried `every` later."""

    def __init__(
        self,
        database: Path,
        folder: Path,
        every: timedelta,
        keep: int,
        *,
        first_after: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.database = database
        self.folder = folder
        self.every = every
        self.keep = keep
        self.first_after = min(first_after, every)
        self._clock = clock
        self._stopping = asyncio.Event()
        self._cancel = threading.Event()
        self._task: asyncio.Task[None] | None = None
        # counts, for tests and logs
        self.taken = 0
        self.failed = 0

    def first_delay(self) -> float:
        existing = backups_in(self.folder, self.database)
        if not existing:
            return self.first_after.total_seconds()
        due = existing[-1][0] + self.every - self._clock()
        return max(due, self.first_after).total_seconds()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="backups")

    async def stop(self) -> None:
        """Stop; a backup under way is abandoned (its temporary file removed)."""
        self._stopping.set()
        self._cancel.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        delay = self.first_delay()
        log.info(
            "event=backups_scheduled folder=%s every=%gs keep=%d first_in=%.0fs",
            self.folder,
            self.every.total_seconds(),
            self.keep,
            delay,
        )
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            await self.run_once()
            delay = self.every.total_seconds()

    async def run_once(self) -> Backup | None:
        """One backup and the retention after it, in a thread."""
        try:
            taken = await asyncio.to_thread(
                take, self.database, self.folder, now=self._clock(), cancel=self._cancel
            )
            pruned = await asyncio.to_thread(prune, self.folder, self.database, self.keep)
        except BackupError as exc:
            if self._cancel.is_set():
                log.info("event=backup_abandoned folder=%s (the bot is stopping)", self.folder)
                return None
            self.failed += 1
            log.error("event=backup_failed folder=%s error=%s", self.folder, exc)
            return None
        except Exception as exc:  # never let the schedule die: the next one is tried
            self.failed += 1
            log.error("event=backup_failed folder=%s error=%r", self.folder, exc)
            return None
        self.taken += 1
        log.info(
            "event=backup file=%s schema_version=%d bytes=%d seconds=%.2f pruned=%d",
            taken.path,
            taken.schema_version,
            taken.size,
            taken.seconds,
            len(pruned),
        )
        return taken


# --- restoring -------------------------------------------------------------------------------


def restore(file: Path, database: Path, *, now: datetime | None = None) -> Restored:
    """Put the backup `file` in place of `database` after checks: RestoreRefused (the file)
    or inuse.DatabaseInUse (a bot or a command has the database open), each one line; the
    database is then untouched."""
    if not file.is_file():
        raise RestoreRefused(f"{file}: no such file")
    if database.exists() and file.resolve() == database.resolve():
        raise RestoreRefused(f"{file}: this is the database itself")
    try:
        with file.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise RestoreRefused(f"{file}: cannot be read ({exc.strerror or exc})") from None
    if header != SQLITE_HEADER:
        raise RestoreRefused(f"{file}: not a SQLite database")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestoreRefused(
            f"{database.parent}: cannot be created ({exc.strerror or exc})"
        ) from None
    temporary = database.with_name(f".{database.name}.{uuid.uuid4().hex[:8]}.restoring")
    try:
        try:
            _copy(file, temporary)
        except sqlite3.Error as exc:
            raise RestoreRefused(f"{file}: not a usable SQLite database ({exc})") from None
        except OSError as exc:
            raise RestoreRefused(
                f"{database.parent}: cannot be written ({exc.strerror or exc})"
            ) from None
        version, incidents, open_incidents = _checked(file, temporary)
        with inuse.exclusive(database, "restore"):
            aside = _set_aside(database, now or _utcnow())
            os.replace(temporary, database)
            _fsync_dir(database.parent)
    finally:
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
    return Restored(database, version, incidents, open_incidents, aside)


def _checked(file: Path, copy: Path) -> tuple[int, int, int]:
    """The copy's schema version and incidents (all, open), or RestoreRefused."""
    try:
        problem, version = _verify(copy)
        if problem is not None:
            raise RestoreRefused(f"{file}: damaged, integrity_check says: {problem}")
        with closing(sqlite3.connect(copy, isolation_level=None)) as conn:
            tables = {
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if KNOWN_TABLE not in tables:
                raise RestoreRefused(f"{file}: not a Passerelle database (no {KNOWN_TABLE} table)")
            latest = latest_schema_version()
            if version > latest:
                raise RestoreRefused(
                    f"{file}: schema version {version} is newer than this Passerelle's"
                    f" ({latest}): restore it with the version that wrote it"
                )
            total, still_open = conn.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE status != 'closed') FROM incidents"
            ).fetchone()
    except sqlite3.Error as exc:
        raise RestoreRefused(f"{file}: not a usable SQLite database ({exc})") from None
    return version, int(total), int(still_open)


def _set_aside(database: Path, moment: datetime) -> Path | None:
    """Rename the database and its write-ahead log (or rollback journal) aside, with a
    timestamp; drop its shared-memory index (rebuilt from the log). A log left by a killed
    bot must go with its database: beside the restored file it would be replayed into it."""
    stamp = moment.astimezone(UTC).strftime(STAMP)
    aside = database.with_name(f"{database.name}.before-restore-{stamp}")
    n = 1
    while aside.exists():
        aside = database.with_name(f"{database.name}.before-restore-{stamp}-{n}")
        n += 1
    kept: Path | None = None
    if database.exists():
        os.replace(database, aside)
        kept = aside
    for suffix in ("-wal", "-journal"):
        companion = Path(f"{database}{suffix}")
        if companion.exists():
            os.replace(companion, Path(f"{aside}{suffix}"))
            kept = kept or aside
    Path(f"{database}-shm").unlink(missing_ok=True)
    return kept


# --- disks -----------------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """The rename itself made durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
