"""PostgreSQL: one database server shared by several Passerelle instances (asyncpg).

asyncpg because it is asyncio-native (the bot is one event loop), speaks the binary protocol
and keeps a prepared-statement cache per connection: the fastest fit for short units of work.

- Units of work: a pooled connection, `BEGIN`, then one advisory lock (`pg_advisory_xact_lock`)
  that serializes the writers of every instance, as SQLite's write lock does for one process;
  `exclusive=False` skips it (work that is atomic on its own: rows claimed with
  `FOR UPDATE SKIP LOCKED`). The transactions are READ COMMITTED: each statement sees what the
  writer before committed, since the lock is taken first.
- Reads: another pooled connection, a REPEATABLE READ READ ONLY transaction (one snapshot).
- Each unit notifies `dialect.CHANGES_CHANNEL` at its commit; every instance listens, and
  counts the others' commits (`data_version`): the boards of instance A see what B stored.
- Services write SQLite's `?`; the dialect rewrites them as `$n`. asyncpg's parameters are
  strictly typed where SQLite's are not: a value refused is converted to the type the server
  expects (an int for a text column, …) and sent again, only then.
- A connection that breaks (the server restarted, failed over, or ended it) is `StorageLost`,
  whatever asyncpg called it: a unit of work found dead at its BEGIN is begun again once on a
  fresh connection (nothing was done yet); a unit cut later is undone and its owner decides
  (an update is handled again: bot.delivery.inbox). A COMMIT is never sent twice (`_end`).
  The first loss is one log line (`event=storage_lost`), the first commit after it another
  (`event=storage_back`). The LISTEN connection is opened again by `data_version`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.core.db.base import Database, Row, StorageLost, StorageProblem, Tx, UnitOfWork
from bot.core.db.dialect import (
    CHANGES_CHANNEL,
    POSTGRESQL,
    WRITER_LOCK,
    latest_version,
    migrations,
    placeholders,
    postgres_statement,
    returning_id,
    split_sql,
)

log = logging.getLogger(__name__)

POOL_SIZE = 8
CLOSE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0


def safe_url(url: str) -> str:
    """The server's address without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}"))


# What says that the connection is gone or that no server takes it, as opposed to a statement
# refused: the server ended it (administrator, shutdown, crash, starting up), the socket broke,
# no server answered in time, or the server is no longer the primary (a failover).
_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, and asyncpg's "connection does not exist"
    asyncpg.exceptions.AdminShutdownError,  # pg_terminate_backend, a fast shutdown
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby now
    asyncpg.exceptions.TargetServerAttributeNotMatched,  # no read-write host among those named
    OSError,  # refused, reset, unreachable
    TimeoutError,  # no answer to connect
)


def connection_lost(exc: BaseException) -> bool:
    """Whether an error says the connection broke (or none can be made), not that a statement
    was refused."""
    if isinstance(exc, _LOST):
        return True
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # "cannot switch to state …; another operation (2) is in progress": the server's
        # FATAL arrived on an idle connection, whose end asyncpg has not seen yet
        return "cannot switch to state" in str(exc)
    # asyncpg's own "connection is closed" / "cannot perform operation: connection is closed";
    # "connection has been released back to the pool": the pool takes back a connection that
    # closes, even one in use
    return isinstance(exc, asyncpg.InterfaceError) and (
        "closed" in str(exc) or "released back to the pool" in str(exc)
    )


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # closed, and taken back by the pool already
        return True


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _numeric(text: str) -> int | float:
    """PostgreSQL's numeric (SUM of integers, AVG) as SQLite gives it: an int when whole."""
    try:
        return int(text)
    except ValueError:
        return float(text)


async def _setup(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "numeric", encoder=str, decoder=_numeric, schema="pg_catalog", format="text"
    )


def _converted(value: Any, kind: str) -> Any:
    """A parameter as the type the server expects it (SQLite would have taken it as is)."""
    if value is None:
        return None
    if kind in ("text", "varchar", "bpchar", "name"):
        if isinstance(value, bool):
            return str(int(value))
        return value if isinstance(value, str) else str(value)
    if kind in ("int2", "int4", "int8"):
        if isinstance(value, str):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return int(value) if isinstance(value, bool) else value
    if kind in ("float4", "float8", "numeric"):
        return float(value) if isinstance(value, (str, int)) else value
    if kind == "bool":
        return bool(value)
    return value


def _count(status: str) -> int:
    """The row count of a command's status ("UPDATE 3", "INSERT 0 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PgTx(Tx):
    def __init__(self, conn: asyncpg.Connection, server: PostgresDatabase) -> None:
        self._conn = conn
        self._server = server

    async def _typed(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        statement = await self._conn.prepare(query)
        kinds = [t.name for t in statement.get_parameters()]
        return tuple(_converted(v, k) for v, k in zip(params, kinds, strict=False))

    async def _run(self, how: str, query: str, params: Sequence[Any]) -> Any:
        method = getattr(self._conn, how)
        try:
            try:
                return await method(query, *params)
            except asyncpg.DataError as exc:
                # refused before it was sent (the transaction goes on): convert and send again
                if "invalid input for query argument" not in str(exc):
                    raise
                log.debug("event=pg_parameter_converted sql=%r reason=%r", query[:80], str(exc))
                return await method(query, *await self._typed(query, params))
        except Exception as exc:
            if connection_lost(exc):
                raise self._server.lost(exc) from exc
            raise

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        returning = returning_id(sql)
        if returning is not None:
            new_id = await self._run("fetchval", placeholders(returning), params)
            return int(new_id or 0)
        status = await self._run("execute", placeholders(sql), params)
        return _count(status)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        query = placeholders(sql)
        batch = [tuple(row) for row in rows]
        if not batch:
            return
        try:
            try:
                await self._conn.executemany(query, batch)
            except asyncpg.DataError as exc:
                if "invalid input for query argument" not in str(exc):
                    raise
                await self._conn.executemany(query, [await self._typed(query, r) for r in batch])
        except Exception as exc:
            if connection_lost(exc):
                raise self._server.lost(exc) from exc
            raise

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = await self._run("fetchrow", placeholders(sql), params)
        return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = await self._run("fetch", placeholders(sql), params)
        return rows


class ReadTx(PgTx):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise RuntimeError("a read writes nothing")

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise RuntimeError("a read writes nothing")


class PgUnit(PgTx, UnitOfWork):
    def __init__(self, conn: asyncpg.Connection, db: PostgresDatabase, exclusive: bool) -> None:
        PgTx.__init__(self, conn, db)
        UnitOfWork.__init__(self, db)
        self.exclusive = exclusive

    async def _statement(self, sql: str) -> None:
        try:
            await self._conn.execute(sql)
        except Exception as exc:
            if connection_lost(exc):
                raise self._server.lost(exc) from exc
            raise


async def stored_version(conn: asyncpg.Connection) -> int:
    """The schema version a PostgreSQL database holds (0: none yet)."""
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        return 0
    version = await conn.fetchval("SELECT max(version) FROM schema_version")
    return int(version or 0)


class PostgresDatabase(Database):
    dialect = POSTGRESQL
    skip_locked = " FOR UPDATE SKIP LOCKED"
    # the server's clock now (now() is the transaction's start)
    server_time_sql = "SELECT clock_timestamp()"

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        super().__init__()
        self.url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        # this instance's name in its notifications: its own commits are not the others'
        self._token = uuid.uuid4().hex
        self._others = 0  # commits of other instances noticed
        self._lost_since: float | None = None  # monotonic time of the loss not yet over
        self._begin = (
            f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK:d});"
            f" NOTIFY {CHANGES_CHANNEL}, '{self._token}'"
        )

    @property
    def name(self) -> str:
        return safe_url(self.url)

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self._pool_size,
                statement_cache_size=512,
                init=_setup,
                timeout=CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StorageProblem(f"{self.name}: cannot connect ({reason})") from None
        try:
            await self._migrate()
            await self._listen()
        except BaseException:
            await self._pool.close()
            self._pool = None
            raise

    async def _listen(self) -> None:
        listener = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
        try:
            await listener.add_listener(CHANGES_CHANNEL, self._notified)
        except BaseException:
            listener.terminate()
            raise
        self._listener = listener

    def lost(self, exc: BaseException, *, ambiguous: bool = False) -> StorageLost:
        """The error to raise for a broken connection; the first of a loss is logged."""
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            log.warning("event=storage_lost server=%s error=%s", self.name, _reason(exc))
        else:
            log.debug("event=storage_still_lost server=%s error=%s", self.name, _reason(exc))
        what = "commit outcome unknown" if ambiguous else "connection lost"
        return StorageLost(f"{self.name}: {what} ({_reason(exc)})", ambiguous=ambiguous)

    def _back(self) -> None:
        if self._lost_since is not None:
            log.warning(
                "event=storage_back server=%s after=%.1fs",
                self.name,
                time.monotonic() - self._lost_since,
            )
            self._lost_since = None

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if payload != self._token:
            self._others += 1

    async def close(self) -> None:
        if self._pool is None:
            return
        await self._stop_flushing()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=CLOSE_TIMEOUT)
            self._listener = None
        pool, self._pool = self._pool, None
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            pool.terminate()

    async def begin(self, *, exclusive: bool = True) -> UnitOfWork:
        if exclusive:
            await self._lock.acquire()
        try:
            conn = await self._begun(self._begin if exclusive else "BEGIN")
            try:
                if self.observer is not None:
                    self.observer("write")
                unit = PgUnit(conn, self, exclusive)
                if exclusive:
                    await self._store_deferred(unit)
            except BaseException:
                await self._abandon(conn)
                raise
        except BaseException:
            if exclusive:
                self._lock.release()
            raise
        return unit

    async def _begun(self, begin: str) -> asyncpg.Connection:
        """A pooled connection with its transaction begun.

        The pool may still hold connections the server has ended (restarted, failed over,
        pg_terminate_backend): one found dead at BEGIN is dropped, the pool told to replace
        every connection it holds, and BEGIN tried once more on a fresh one. Nothing was done
        on the dead one (not even the writers' lock taken), so this retry is always safe. A
        second failure, or no server to connect to, is the caller's StorageLost."""
        for attempt in range(2):
            try:
                conn = await self.pool.acquire()
            except Exception as exc:
                if connection_lost(exc):
                    raise self.lost(exc) from exc
                raise
            try:
                await conn.execute(begin)
            except BaseException as exc:
                await self._abandon(conn)
                if not (isinstance(exc, Exception) and connection_lost(exc)):
                    raise
                error = self.lost(exc)
                if attempt:
                    raise error from exc
                await self.pool.expire_connections()
                continue
            return conn
        raise AssertionError("unreachable")

    async def _abandon(self, conn: asyncpg.Connection) -> None:
        try:
            if not _closed(conn) and conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        except Exception:
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()
        finally:
            await self.pool.release(conn)  # nothing if the pool took it back already

    async def _end(self, unit: UnitOfWork, how: str) -> None:
        assert isinstance(unit, PgUnit)
        if not unit.open:
            return
        unit.open = False
        conn = unit._conn
        closed = _closed(conn)
        try:
            await conn.execute(how)
        except BaseException as exc:
            await self._abandon(conn)
            if not (isinstance(exc, Exception) and connection_lost(exc)):
                raise
            if how != "COMMIT":
                # a rollback: the server undid the transaction when its connection ended
                return
            # A COMMIT cut: if the connection was gone before it was sent, nothing landed;
            # otherwise the server may have committed before it died (or before its standby
            # took over) and the answer was lost. Never sent again here: whether the work may
            # be redone is the owner's call. An update's unit carries its claim, so handling
            # the update again is safe either way: it lands once, or finds its claim and stops
            # (bot.delivery.inbox). Other units (an outbox row marked sent, a lease) are not
            # retried: their next round reads what is stored and goes on from there.
            raise self.lost(exc, ambiguous=not closed) from exc
        else:
            await self.pool.release(conn)
            if how == "COMMIT":
                self._back()  # writes land again (a read alone may reach a standby)
        finally:
            if unit.exclusive:
                self._lock.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """What is committed, one snapshot, on a connection of its own."""
        conn = await self._begun("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            if self.observer is not None:
                self.observer("read")
            yield ReadTx(conn, self)
        finally:
            await self._abandon(conn)  # rolled back (it wrote nothing), back to the pool

    def read_apart(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        """A long read: on a connection of its own too, it never stalls the loop."""
        return self.read()

    async def schema_version(self) -> int:
        async with self.pool.acquire() as conn:
            return await stored_version(conn)

    async def data_version(self) -> int:
        """How many commits of other instances this one was notified of."""
        if self._listener is None or self._listener.is_closed():
            # notifications may have been missed meanwhile: count that as a change, and listen
            # again (the server ended the connection, or failed over): tried at every call
            self._others += 1
            self._listener = None
            try:
                await self._listen()
            except Exception as exc:
                if not connection_lost(exc):
                    raise
                self.lost(exc)
            else:
                log.info("event=storage_listening_again server=%s", self.name)
        return self._others

    async def _migrate(self) -> None:
        """Each migration in a transaction of its own, under the writers' lock: instances
        that start together migrate once."""
        latest = latest_version()
        async with self.pool.acquire() as conn:
            for version, name, sql in migrations():
                async with conn.transaction():
                    await conn.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK:d})")
                    await conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"
                    )
                    current = await conn.fetchval("SELECT max(version) FROM schema_version")
                    if current is None:
                        await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                        current = 0
                    if current >= latest:
                        return
                    if version <= current:
                        continue
                    log.info("event=migrate version=%d file=%s", version, name)
                    for statement in split_sql(sql):
                        await conn.execute(postgres_statement(statement))
                    await conn.execute("UPDATE schema_version SET version = $1", version)
