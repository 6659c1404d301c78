"""The database: one aiosqlite connection, versioned migrations, and units of work.

A unit of work is one transaction that writes: the claim of the update it serves, the
update's writes, its outbox rows and the live messages it makes stale, committed together or
not at all, and the effects to apply once it committed (bot.core.effects). Reads that change
nothing use `read()`. Everything specific to SQLite (its pragmas, `BEGIN IMMEDIATE`,
the row type) lives in this module.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
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


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class AlreadyProcessed(Exception):
    """The update was handled before: its effects are stored, do nothing again."""


class Tx:
    """A transaction in progress: the only way services touch the database."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the last row id (for INSERT) or the row count."""
        cursor = await self._conn.execute(sql, params)
        try:
            if sql.lstrip()[:6].upper() == "INSERT":
                return cursor.lastrowid or 0
            return cursor.rowcount
        finally:
            await cursor.close()

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._conn.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query, or of a write with RETURNING."""
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


class UnitOfWork(Tx):
    """One transaction that writes, and the effects to apply once it has committed."""

    def __init__(self, conn: aiosqlite.Connection, db: Database) -> None:
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
        await self._conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self._conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            await self._conn.execute(f"RELEASE SAVEPOINT {name}")
            self.effects.restore(saved)
            raise
        await self._conn.execute(f"RELEASE SAVEPOINT {name}")

    async def commit(self) -> None:
        await self._db._end(self, "COMMIT")

    async def rollback(self) -> None:
        await self._db._end(self, "ROLLBACK")


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        # One connection serves every coroutine: the lock keeps units of work from
        # interleaving inside each other's transactions.
        self._lock = asyncio.Lock()
        self._deferred: list[tuple[str, Sequence[Any]]] = []
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        # told of every transaction begun, "write" or "read" (tests count them)
        self.observer: Callable[[str], None] | None = None

    async def open(self) -> None:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        self._conn = conn
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            await self.flush()
            if self._flush is not None:
                self._flush.cancel()
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def begin(self) -> UnitOfWork:
        """Open a unit of work that its owner ends with `commit()` or `rollback()`: the
        update's, which spans the gate and the handler. Takes SQLite's write lock at once."""
        await self._lock.acquire()
        try:
            conn = self.conn
            await conn.execute("BEGIN IMMEDIATE")
            if self.observer is not None:
                self.observer("write")
            unit = UnitOfWork(conn, self)
            await self._store_deferred(unit)
        except BaseException:
            if self._conn is not None and self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            self._lock.release()
            raise
        return unit

    async def _end(self, unit: UnitOfWork, how: str) -> None:
        if not unit.open:
            return
        unit.open = False
        conn = self.conn
        try:
            await conn.execute(how)
        except BaseException:
            if conn.in_transaction:  # a COMMIT that failed leaves the transaction open
                await conn.execute("ROLLBACK")
            raise
        finally:
            self._lock.release()

    @asynccontextmanager
    async def unit(self, update_id: int | None = None) -> AsyncIterator[UnitOfWork]:
        """A unit of work, committed when the block ends (rolled back if it raises). With an
        `update_id`, the update is claimed first: AlreadyProcessed if it was before."""
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
        """A consistent read. It takes the same lock: with one connection, a read between
        another coroutine's statements would see its uncommitted rows."""
        async with self._lock:
            conn = self.conn
            await conn.execute("BEGIN")
            if self.observer is not None:
                self.observer("read")
            try:
                yield Tx(conn)
            finally:
                await conn.execute("COMMIT")

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

    async def _migrate(self) -> None:
        conn = self.conn
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for version, name, sql in _migrations():
            if version <= current:
                continue
            log.info("event=migrate version=%d file=%s", version, name)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version:d}")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")


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
