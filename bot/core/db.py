"""The database: SQLite, versioned migrations, and units of work.

A unit of work is one transaction that writes: the claim of the update it serves, the
update's writes, its outbox rows and the live messages it makes stale, committed together or
not at all, and the effects to apply once it committed (bot.core.effects). Reads that change
nothing use `read()`; long reads (a report, an export, the map) use `read_apart()`.

Units of work and short reads run on the event loop, on one synchronous sqlite3 connection:
they take well under a millisecond (docs/benchmarks.md), less than one hop to a database
thread and back per statement would cost. Long reads run on a second connection in aiosqlite's
thread, so they never stall the loop (WAL: they read the last committed state). Everything
specific to SQLite (its pragmas, `BEGIN IMMEDIATE`, the row type, checkpoints) lives here.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core.effects import Effects

log = logging.getLogger(__name__)

# A row read from the database: by column name (row["id"]) or position.
Row = sqlite3.Row

# Writes that may wait for the next unit of work (the message id of an answer, known only
# once Telegram accepted it): stored within this many seconds at the latest.
DEFERRED_DELAY = 1.0
# Another process holding SQLite's write lock (a roster import from the command line): the
# loop's connection never blocks on it, it tries again this often, for this long at most.
BUSY_RETRY = 0.005
BUSY_GIVE_UP = 30.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class AlreadyProcessed(Exception):
    """The update was handled before: its effects are stored, do nothing again."""


class Tx:
    """A transaction in progress: the only way services touch the database. Its methods are
    coroutines, whatever runs them (the loop's connection, aiosqlite's thread, a database
    server): services are written once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the last row id (for INSERT) or the row count."""
        cursor = self._conn.execute(sql, params)
        if sql.lstrip()[:6].upper() == "INSERT":
            return cursor.lastrowid or 0
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query, or of a write with RETURNING."""
        return self._conn.execute(sql, params).fetchall()


class ApartTx(Tx):
    """A read on the connection in aiosqlite's thread: every statement waits there, not on
    the loop."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._apart = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise RuntimeError("a read apart writes nothing")

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise RuntimeError("a read apart writes nothing")

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._apart.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._apart.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


class UnitOfWork(Tx):
    """One transaction that writes, and the effects to apply once it has committed."""

    def __init__(self, conn: sqlite3.Connection, db: Database) -> None:
        super().__init__(conn)
        self._db = db
        self.effects = Effects()
        self.open = True
        self._savepoints = 0

    async def claim(self, update_id: int) -> bool:
        """Record that this update's effects are being stored here; False if they already
        were. In the same transaction as the effects, so both land or neither does."""
        stored = await self.all(
            "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)"
            " ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
            (update_id, to_db_time(utcnow())),
        )
        return bool(stored)

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """Work that may be refused: on any exception its writes and effects are undone (a
        savepoint), while what came before in the unit (the update's claim) stays."""
        self._savepoints += 1
        name = f"attempt_{self._savepoints}"
        saved = self.effects.checkpoint()
        self._conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._conn.execute(f"RELEASE SAVEPOINT {name}")
            self.effects.restore(saved)
            raise
        self._conn.execute(f"RELEASE SAVEPOINT {name}")

    async def commit(self) -> None:
        self._db._end(self, "COMMIT")

    async def rollback(self) -> None:
        self._db._end(self, "ROLLBACK")


class Database:
    # The dialect, and what a claim's SELECT ends with so that several instances skip the
    # rows another is claiming (PostgreSQL: " FOR UPDATE SKIP LOCKED"; SQLite has one writer).
    dialect = "sqlite"
    skip_locked = ""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._apart: aiosqlite.Connection | None = None
        # Units of work may span awaits (the gate's, until its handler commits): the lock
        # keeps them, and reads, from interleaving inside each other's transactions.
        self._lock = asyncio.Lock()
        self._apart_lock = asyncio.Lock()
        self._deferred: list[tuple[str, Sequence[Any]]] = []
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        # told of every transaction begun, "write" or "read" (tests count them)
        self.observer: Callable[[str], None] | None = None

    async def open(self) -> None:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=512
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # checkpoints run apart (`checkpoint`), not in the middle of a unit of work's commit
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._conn = conn
        conn.execute("PRAGMA busy_timeout = 5000")  # at start, another process may be writing
        self._migrate()
        # from now on never wait on the loop: BEGIN IMMEDIATE tries again instead (`begin`)
        conn.execute("PRAGMA busy_timeout = 0")
        apart = await aiosqlite.connect(self.path, isolation_level=None)
        apart.row_factory = sqlite3.Row
        await apart.execute("PRAGMA busy_timeout = 5000")
        await apart.execute("PRAGMA query_only = ON")
        self._apart = apart

    async def close(self) -> None:
        if self._conn is not None:
            await self.flush()
            if self._flush is not None:
                self._flush.cancel()
            await self.checkpoint(truncate=True)
            if self._apart is not None:
                await self._apart.close()
                self._apart = None
            async with self._lock:
                self._conn.execute("PRAGMA analysis_limit = 400")
                self._conn.execute("PRAGMA optimize")
                self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def begin(self) -> UnitOfWork:
        """Open a unit of work that its owner ends with `commit()` or `rollback()`: the
        update's, which spans the gate and the handler. Takes SQLite's write lock at once."""
        await self._lock.acquire()
        try:
            conn = self.conn
            await self._begin_immediate(conn)
            if self.observer is not None:
                self.observer("write")
            unit = UnitOfWork(conn, self)
            await self._store_deferred(unit)
        except BaseException:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._lock.release()
            raise
        return unit

    async def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        waited = 0.0
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # another process writes (a command-line import): wait without blocking
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if waited >= BUSY_GIVE_UP:
                    raise
            await asyncio.sleep(BUSY_RETRY)
            waited += BUSY_RETRY

    def _end(self, unit: UnitOfWork, how: str) -> None:
        if not unit.open:
            return
        unit.open = False
        conn = self.conn
        try:
            conn.execute(how)
        except BaseException:
            if conn.in_transaction:  # a COMMIT that failed leaves the transaction open
                conn.execute("ROLLBACK")
            raise
        finally:
            self._lock.release()

    @asynccontextmanager
    async def unit(
        self, update_id: int | None = None, *, exclusive: bool = True
    ) -> AsyncIterator[UnitOfWork]:
        """A unit of work, committed when the block ends (rolled back if it raises). With an
        `update_id`, the update is claimed first: AlreadyProcessed if it was before.
        `exclusive=False`: work that is atomic on its own (a lease, a claim with
        `skip_locked`) need not wait for the other instances' writers (SQLite: no difference)."""
        unit = await self.begin()
        try:
            if update_id is not None and not await unit.claim(update_id):
                raise AlreadyProcessed(update_id)
            yield unit
        except BaseException:
            await unit.rollback()
            raise
        await unit.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A consistent short read, on the loop. It takes the units' lock: on the same
        connection, a read between a unit's statements would see its uncommitted rows."""
        async with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            if self.observer is not None:
                self.observer("read")
            try:
                yield Tx(conn)
            finally:
                conn.execute("COMMIT")

    @asynccontextmanager
    async def read_apart(self) -> AsyncIterator[Tx]:
        """A consistent long read (a report, an export, the map's data) on the connection in
        aiosqlite's thread: it sees what was committed when it began, and never stalls the
        loop. Read-only."""
        if self._apart is None:
            raise RuntimeError("database is not open")
        async with self._apart_lock:
            await self._apart.execute("BEGIN")
            if self.observer is not None:
                self.observer("read")
            try:
                yield ApartTx(self._apart)
            finally:
                await self._apart.execute("COMMIT")

    async def claimed(self, update_id: int) -> bool:
        """Whether an update's effects are stored (its claim committed)."""
        async with self.read() as tx:
            row = await tx.one("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,))
        return row is not None

    def defer(self, sql: str, params: Sequence[Any]) -> None:
        """A write that need not have a transaction of its own: it is stored at the start of
        the next unit of work, or within DEFERRED_DELAY seconds. Lost if the process dies
        before: only for what can be lost (which message an answer became)."""
        self._deferred.append((sql, params))
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(DEFERRED_DELAY, self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush = None
        if self._deferred and self._conn is not None:
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Store the deferred writes now."""
        if self._deferred and self._conn is not None:
            unit = await self.begin()
            await unit.commit()

    async def _store_deferred(self, unit: UnitOfWork) -> None:
        pending, self._deferred = self._deferred, []
        try:
            for sql, params in pending:
                await unit.execute(sql, params)
        except BaseException:
            self._deferred = pending + self._deferred
            raise

    # --- housekeeping ---------------------------------------------------------------------

    async def checkpoint(self, *, truncate: bool = False) -> None:
        """Copy the write-ahead log into the database file, apart from the loop (a passive
        checkpoint waits for no one; a truncating one, at close, empties the log)."""
        if self._apart is None:
            return
        async with self._apart_lock:
            await self._apart.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)" if truncate else "PRAGMA wal_checkpoint(PASSIVE)"
            )

    async def forget_claims(self, older_than: timedelta, batch: int = 5000) -> int:
        """Claims of updates older than Telegram could deliver again: dropped, a batch per
        unit of work so that the loop is never held long. How many were dropped."""
        cutoff = to_db_time(utcnow() - older_than)
        dropped = 0
        while True:
            async with self.unit() as unit:
                gone = await unit.execute(
                    "DELETE FROM processed_updates WHERE update_id IN (SELECT update_id"
                    " FROM processed_updates WHERE at < ? LIMIT ?)",
                    (cutoff, batch),
                )
            dropped += gone
            if gone < batch:
                return dropped
            await asyncio.sleep(0)  # let the updates waiting meanwhile go first

    async def optimize(self) -> None:
        """SQLite's own upkeep of its query planner statistics (cheap when nothing changed)."""
        async with self._lock:
            # a bounded ANALYZE when one is due: it runs on the loop, so it must stay short
            self.conn.execute("PRAGMA analysis_limit = 400")
            self.conn.execute("PRAGMA optimize")

    def _migrate(self) -> None:
        conn = self.conn
        row = conn.execute("PRAGMA user_version").fetchone()
        current = int(row[0]) if row else 0
        for version, name, sql in _migrations():
            if version <= current:
                continue
            log.info("event=migrate version=%d file=%s", version, name)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version:d}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("bot") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our string literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
