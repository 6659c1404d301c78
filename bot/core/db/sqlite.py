"""SQLite: the embedded backend, one file, nothing else to run.

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
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core.db.base import Database, Row, Tx, UnitOfWork
from bot.core.db.dialect import SQLITE, migrations, split_sql

log = logging.getLogger(__name__)

# Another process holding SQLite's write lock (a roster import from the command line): the
# loop's connection never blocks on it, it tries again this often, for this long at most.
BUSY_RETRY = 0.005
BUSY_GIVE_UP = 30.0


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
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
        rows: list[Row] = self._conn.execute(sql, params).fetchall()
        return rows


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


class SqliteUnit(SqliteTx, UnitOfWork):
    def __init__(self, conn: sqlite3.Connection, db: Database) -> None:
        SqliteTx.__init__(self, conn)
        UnitOfWork.__init__(self, db)

    async def _statement(self, sql: str) -> None:
        self._conn.execute(sql)


class SqliteDatabase(Database):
    dialect = SQLITE
    skip_locked = ""
    # SQLite reads the system clock itself (not Python's): the same machine, the same clock
    server_time_sql = "SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now')"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._apart: aiosqlite.Connection | None = None
        self._apart_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.path

    @property
    def is_open(self) -> bool:
        return self._conn is not None

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
            await self._stop_flushing()
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

    async def begin(self, *, exclusive: bool = True) -> UnitOfWork:
        """Takes SQLite's write lock at once (one writer: `exclusive` changes nothing here)."""
        await self._lock.acquire()
        try:
            conn = self.conn
            await self._begin_immediate(conn)
            if self.observer is not None:
                self.observer("write")
            unit = SqliteUnit(conn, self)
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

    async def _end(self, unit: UnitOfWork, how: str) -> None:
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
    async def read(self) -> AsyncIterator[Tx]:
        """On the loop. It takes the units' lock: on the same connection, a read between a
        unit's statements would see its uncommitted rows."""
        async with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            if self.observer is not None:
                self.observer("read")
            try:
                yield SqliteTx(conn)
            finally:
                conn.execute("COMMIT")

    @asynccontextmanager
    async def read_apart(self) -> AsyncIterator[Tx]:
        """On the connection in aiosqlite's thread: it sees what was committed when it began,
        and never stalls the loop."""
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

    async def schema_version(self) -> int:
        async with self._lock:
            row = self.conn.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0

    async def data_version(self) -> int:
        """SQLite's PRAGMA data_version: it changes when another connection commits."""
        async with self._lock:
            row = self.conn.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

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
        for version, name, sql in migrations():
            if version <= current:
                continue
            log.info("event=migrate version=%d file=%s", version, name)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in split_sql(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version:d}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def file_version(path: str | Path) -> int | None:
    """The schema version of a SQLite file, read-only; None when there is no such file.
    sqlite3.Error when it cannot be read."""
    file = Path(path)
    if not file.is_file():
        return None
    with closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0
