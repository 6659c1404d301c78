"""The storage backends the tests run on: SQLite always, PostgreSQL where a server answers.

`PASSERELLE_TEST_POSTGRES` names the server (default: the local one, database `test`). Each
PostgreSQL test gets a database of its own, copied from a template migrated once per session,
and dropped after. No server: the PostgreSQL runs are skipped with the reason, except when
`CI` is set: then they fail (a silent skip must not pass CI).

`current` is the PostgreSQL address of the running test's database (None on SQLite): the
fixtures, the end-to-end harness and the crash harness read it.

Every database made here is named `passerelle_t_[tpl_]<host>_<pid>_<random>`: the machine (a
hash of its name) and the process that made it. A run killed before its end (SIGKILL, a
timeout) leaves its databases behind; the next session's start drops those of this machine
whose process is gone and to which no one is connected (`sweep`). Another machine's are never
touched (its processes cannot be seen from here), nor names of another form.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import socket
import sqlite3
import threading
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.core.db import PostgresDatabase
from bot.core.db.dialect import placeholders

SERVER = os.environ.get("PASSERELLE_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
PREFIX = "passerelle_t_"
# this machine, in the names of the databases its runs make
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
NAME = re.compile(rf"^{PREFIX}(?:tpl_)?([0-9a-f]{{6}})_([0-9]+)_[0-9a-f]+$")

log = logging.getLogger(__name__)

current: str | None = None

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """A coroutine run to its end on a loop of its own (from synchronous code, or from a
    test's loop without disturbing it)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def url_of(database: str, server: str = SERVER) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{database}"))


def database_name(*, template: bool = False, pid: int | None = None, host: str = HOST) -> str:
    """A new test database's name: this machine and this process in it (see `sweep`)."""
    kind = "tpl_" if template else ""
    return f"{PREFIX}{kind}{host}_{os.getpid() if pid is None else pid}_{uuid.uuid4().hex[:8]}"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    return True


async def sweep(conn: asyncpg.Connection) -> list[str]:
    """Drop the test databases a killed run of this machine left: made by a process that is
    gone, no one connected. Those of other machines, of live processes, and names of another
    form stay. The names dropped."""
    rows = await conn.fetch(
        "SELECT d.datname, (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)"
        " FROM pg_database d WHERE starts_with(d.datname, $1) ORDER BY d.datname",
        PREFIX,
    )
    dropped = []
    for name, connected in rows:
        match = NAME.match(name)
        if match is None or match.group(1) != HOST or connected:
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or alive(pid):
            continue
        try:
            # without FORCE: refused if someone connected meanwhile
            await conn.execute(f'DROP DATABASE "{name}"')
        except (asyncpg.ObjectInUseError, asyncpg.InvalidCatalogNameError):
            continue
        dropped.append(name)
    if dropped:
        log.warning("dropped %d test databases left by killed runs: %s", len(dropped), dropped)
    return dropped


class Server:
    """The PostgreSQL server of the session, with its migrated template."""

    def __init__(self, url: str = SERVER) -> None:
        self.url = url
        self.template = database_name(template=True)
        self.problem: str | None = None

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.url, timeout=5)

    def start(self) -> None:
        """Probe the server and make the template; the reason in `problem` if it cannot."""

        async def make() -> None:
            conn = await self._admin()
            try:
                await sweep(conn)
                await conn.execute(f'CREATE DATABASE "{self.template}"')
            finally:
                await conn.close()
            db = PostgresDatabase(url_of(self.template, self.url))
            await db.open()
            await db.close()

        try:
            run(make())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self.problem = f"PostgreSQL not reachable at {self.url}: {exc or type(exc).__name__}"

    def fresh(self) -> tuple[str, str]:
        """A new database copied from the template: (name, address)."""
        name = database_name()

        async def make() -> None:
            conn = await self._admin()
            try:
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            finally:
                await conn.close()

        run(make())
        return name, url_of(name, self.url)

    def drop(self, name: str) -> None:
        async def drop() -> None:
            conn = await self._admin()
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        run(drop())

    def stop(self) -> None:
        if self.problem is None:
            self.drop(self.template)


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class SyncPostgres:
    """A blocking connection for tests that read the database as sqlite3 does (the crash
    harness): `execute(sql, params).fetchall()`, `?` placeholders, rows by name or position."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conn: asyncpg.Connection = self._call(asyncpg.connect(url))

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        return _Rows(self._call(self._conn.fetch(placeholders(sql), *params)))

    def close(self) -> None:
        self._call(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reader(db_path: Path, timeout: float = 30) -> Any:
    """A read-only blocking connection to the test's database, whichever the backend."""
    if current is not None:
        return SyncPostgres(current)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=timeout)
    conn.row_factory = sqlite3.Row
    return conn


def tables(conn: Any) -> list[str]:
    """The bot's tables, through a `reader` (neither SQLite's own nor the schema version)."""
    if isinstance(conn, sqlite3.Connection):
        # SQLite's own tables (sqlite_stat1, written by the upkeep's PRAGMA optimize) are not
        # the bot's state
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_name <> 'schema_version'"
        )
    return sorted(row[0] for row in conn.execute(sql).fetchall())


def storage(db_path: Path) -> dict[str, str]:
    """The [storage] table of a test's configuration."""
    if current is not None:
        return {"path": str(db_path), "url": current}
    return {"path": str(db_path)}
