"""Units of work, common to both storage backends.

A unit of work is one transaction that writes: the claim of the update it serves, the
update's writes, its outbox rows and the live messages it makes stale, committed together or
not at all, and the effects to apply once it committed (bot.core.effects). Reads that change
nothing use `read()`; long reads (a report, an export, the map) use `read_apart()`.

Writers are serialized, whatever the backend: services rely on it (a request's capacity check,
a card's version). On SQLite the write lock is the database's own; on PostgreSQL every unit
takes one advisory lock first, across instances (bot.core.db.postgres). A unit opened with
`exclusive=False` skips that lock: for work that is atomic on its own (a lease claimed with
`db.skip_locked`). The backends (bot.core.db.sqlite, bot.core.db.postgres) differ in nothing
else that a service sees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.core.effects import Effects

log = logging.getLogger(__name__)

# A difference between this machine's clock and the database server's beyond this is logged
# (a warning: leases and heartbeats follow the server's, but the operator should fix it).
CLOCK_WARNING = timedelta(seconds=1)

# Writes that may wait for the next unit of work (the message id of an answer, known only
# once Telegram accepted it): stored within this many seconds at the latest.
DEFERRED_DELAY = 1.0


class Row(Protocol):
    """A row read from the database: by column name (row["id"]) or position (row[0]); both
    backends' rows (sqlite3.Row, asyncpg's Record) are one."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Any: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class StorageProblem(Exception):
    """The database cannot be used (unreachable, unreadable, refused): one line saying why."""


class StorageLost(StorageProblem):
    """The connection to the database server broke, or no server answered: what the unit of
    work wrote is undone, unless `ambiguous` (its COMMIT was sent and no answer came: it may
    have landed). Whoever began the work may try it again on a fresh connection; an update's
    unit may be tried again even when ambiguous, since its claim stops a second effect
    (PassApplication, bot.delivery.inbox)."""

    def __init__(self, message: str, *, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class AlreadyProcessed(Exception):
    """The update was handled before: its effects are stored, do nothing again."""


class Tx:
    """A transaction in progress: the only way services touch the database. Its methods are
    coroutines, whatever runs them (the loop's connection, aiosqlite's thread, a database
    server): services are written once, with `?` placeholders."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the new row's id (an INSERT into a table with one) or
        the row count."""
        raise NotImplementedError

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query, or of a write with RETURNING."""
        raise NotImplementedError


class UnitOfWork(Tx):
    """One transaction that writes, and the effects to apply once it has committed."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.effects = Effects()
        self.open = True
        self._savepoints = 0
        # people rows as this unit read them (the gate): a write that would change nothing in
        # them is skipped (bot.core.directory.ensure_person), one statement less per update
        self.people_read: dict[int, tuple[str, str | None, str | None, bool]] = {}

    def now(self) -> datetime:
        """The database server's time (Database.now)."""
        return self._db.now()

    async def _statement(self, sql: str) -> None:
        """A statement of the transaction's own (SAVEPOINT …), no parameters."""
        raise NotImplementedError

    async def claim(self, update_id: int) -> bool:
        """Record that this update's effects are being stored here; False if they already
        were. In the same transaction as the effects, so both land or neither does. Two
        instances claiming at once: the second waits for the first to commit, then finds it."""
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
        await self._statement(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self._statement(f"ROLLBACK TO SAVEPOINT {name}")
            await self._statement(f"RELEASE SAVEPOINT {name}")
            self.effects.restore(saved)
            raise
        await self._statement(f"RELEASE SAVEPOINT {name}")

    async def commit(self) -> None:
        await self._db._end(self, "COMMIT")

    async def rollback(self) -> None:
        await self._db._end(self, "ROLLBACK")


class Database:
    """The storage: migrations, units of work, reads. `SqliteDatabase(path)` or
    `PostgresDatabase(url)`; `database_for(settings.storage)` picks."""

    # "sqlite" or "postgresql": for the rare caller that must know (bot.core.db.dialect)
    dialect: str = ""
    # appended to a SELECT that claims rows (" FOR UPDATE SKIP LOCKED" where rows can be
    # locked; SQLite's single writer needs none)
    skip_locked: str = ""
    # the database's own clock, as one row of one text or timestamp column
    server_time_sql: str = ""

    def __init__(self) -> None:
        # Units of work may span awaits (the gate's, until its handler commits): the lock
        # keeps this process's units from interleaving.
        self._lock = asyncio.Lock()
        self._deferred: list[tuple[str, Sequence[Any]]] = []
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        # told of every transaction begun, "write" or "read" (tests count them)
        self.observer: Callable[[str], None] | None = None
        # the database's clock minus this machine's, as last measured (`measure_clock`)
        self.clock_offset = timedelta(0)
        self._clock_warned: timedelta | None = None

    # --- what each backend provides --------------------------------------------------------

    @property
    def name(self) -> str:
        """Where the data is, for messages (a file, or a server without its password)."""
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    async def open(self) -> None:
        """Connect and bring the schema up to this code's version."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def begin(self, *, exclusive: bool = True) -> UnitOfWork:
        """Open a unit of work that its owner ends with `commit()` or `rollback()`: the
        update's, which spans the gate and the handler."""
        raise NotImplementedError

    async def _end(self, unit: UnitOfWork, how: str) -> None:
        raise NotImplementedError

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A consistent short read of what is committed."""
        raise NotImplementedError

    def read_apart(self) -> AbstractAsyncContextManager[Tx]:
        """A consistent long read (a report, an export, the map's data) that never stalls the
        loop. Read-only."""
        raise NotImplementedError

    async def schema_version(self) -> int:
        """The version of the schema the database holds (its last migration's number)."""
        raise NotImplementedError

    async def data_version(self) -> int:
        """A number that changes when another process (another instance, the command line)
        committed a change since the last call (the board's hub polls it)."""
        raise NotImplementedError

    async def checkpoint(self, *, truncate: bool = False) -> None:
        """Housekeeping of the write-ahead log, where the backend has one of ours."""

    async def optimize(self) -> None:
        """The backend's upkeep of its query planner statistics, where it needs ours."""

    # --- common to both -------------------------------------------------------------------

    def local_now(self) -> datetime:
        """This machine's clock (UTC)."""
        return utcnow()

    def now(self) -> datetime:
        """The database server's time: this machine's clock corrected by the offset last
        measured. What instances compare across machines (leases, heartbeats, claims) is
        written and compared in this time, so a machine whose clock runs ahead cannot take
        another's lease before it ran out."""
        return self.local_now() + self.clock_offset

    async def measure_clock(self) -> timedelta:
        """Read the database's clock and keep its offset from this machine's (half the round
        trip counted); a warning event when they differ by more than CLOCK_WARNING."""
        async with self.read() as tx:
            before = self.local_now()
            row = await tx.one(self.server_time_sql)
            after = self.local_now()
        assert row is not None
        server = row[0]
        if isinstance(server, str):  # SQLite: its own reading of the system clock, in UTC
            server = datetime.fromisoformat(server).replace(tzinfo=UTC)
        offset: timedelta = server - (before + (after - before) / 2)
        self.clock_offset = offset
        if abs(offset) > CLOCK_WARNING:
            if self._clock_warned is None or abs(offset - self._clock_warned) > CLOCK_WARNING:
                log.warning(
                    "event=clock_offset seconds=%.3f: this machine's clock differs from the"
                    " database's; leases and heartbeats follow the database's (fix NTP)",
                    offset.total_seconds(),
                )
                self._clock_warned = offset
        elif self._clock_warned is not None:
            log.info("event=clock_offset_ok seconds=%.3f", offset.total_seconds())
            self._clock_warned = None
        return offset

    @asynccontextmanager
    async def unit(
        self, update_id: int | None = None, *, exclusive: bool = True
    ) -> AsyncIterator[UnitOfWork]:
        """A unit of work, committed when the block ends (rolled back if it raises). With an
        `update_id`, the update is claimed first: AlreadyProcessed if it was before.
        `exclusive=False`: not serialized with the other writers (work atomic on its own)."""
        unit = await self.begin(exclusive=exclusive)
        try:
            if update_id is not None and not await unit.claim(update_id):
                raise AlreadyProcessed(update_id)
            yield unit
        except BaseException:
            await unit.rollback()
            raise
        await unit.commit()

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
        if self._deferred and self.is_open:
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Store the deferred writes now."""
        if self._deferred and self.is_open:
            unit = await self.begin()
            await unit.commit()

    async def _stop_flushing(self) -> None:
        await self.flush()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    async def _store_deferred(self, unit: UnitOfWork) -> None:
        pending, self._deferred = self._deferred, []
        try:
            for sql, params in pending:
                await unit.execute(sql, params)
        except BaseException:
            self._deferred = pending + self._deferred
            raise

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
