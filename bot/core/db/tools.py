"""Looking at a database without running the bot, and moving one from SQLite to PostgreSQL.

`inspect` reads where the configuration points (read-only: it creates and migrates nothing):
whether it can be reached, its schema version, the roster's agencies (check-config).
`copy_from_sqlite` copies a SQLite file into an empty PostgreSQL database migrated to the same
version (`python -m bot migrate --from-sqlite FILE`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bot.core.config import StorageSettings
from bot.core.db.dialect import identity_columns, latest_version
from bot.core.db.postgres import PostgresDatabase, _converted, safe_url, stored_version
from bot.core.db.sqlite import file_version

CONNECT_TIMEOUT = 10.0
BATCH = 5000


class StorageProblem(Exception):
    """The database cannot be used: one line saying why."""


@dataclass(frozen=True)
class Inspection:
    where: str
    version: int | None  # None: no database yet (SQLite: no file)
    agencies: dict[str, int] = field(default_factory=dict)  # units in the roster, by agency

    @property
    def code_version(self) -> int:
        return latest_version()

    def describe(self) -> str:
        """One line: the schema version, behind, current or ahead of this code."""
        code = self.code_version
        if self.version is None:
            return f"{self.where}: no database yet (created at the first start, schema {code})"
        if self.version < code:
            return (
                f"{self.where}: schema version {self.version}, behind this code's {code}:"
                " migrated at the next start"
            )
        if self.version > code:
            return (
                f"{self.where}: schema version {self.version}, ahead of this code's {code}:"
                " a newer Passerelle wrote it; run that version (or restore a backup)"
            )
        return f"{self.where}: schema version {self.version}, current"

    @property
    def ahead(self) -> bool:
        return self.version is not None and self.version > self.code_version


async def inspect(storage: StorageSettings) -> Inspection:
    """Read-only look at the configured database; StorageProblem when it cannot be read."""
    if storage.url:
        where = safe_url(storage.url)
        try:
            conn = await asyncpg.connect(storage.url, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise StorageProblem(f"{where}: cannot connect ({_reason(exc)})") from None
        try:
            version = await stored_version(conn)
            agencies: dict[str, int] = {}
            if await conn.fetchval("SELECT to_regclass('units')") is not None:
                rows = await conn.fetch("SELECT agency, COUNT(*) FROM units GROUP BY agency")
                agencies = {row[0]: int(row[1]) for row in rows}
        except asyncpg.PostgresError as exc:
            raise StorageProblem(f"{where}: cannot be read ({_reason(exc)})") from None
        finally:
            await conn.close()
        return Inspection(where, version, agencies)
    return _sqlite_inspection(storage.path)


def _read_only(path: str | Path) -> str:
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def _sqlite_inspection(where: str) -> Inspection:
    try:
        found = file_version(where)
        if found is None:
            return Inspection(where, None)
        with closing(sqlite3.connect(_read_only(where), uri=True)) as sqlite:
            has_units = sqlite.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'units'"
            ).fetchone()
            rows = (
                sqlite.execute("SELECT agency, COUNT(*) FROM units GROUP BY agency").fetchall()
                if has_units
                else []
            )
    except sqlite3.Error as exc:
        raise StorageProblem(f"{where}: cannot be read ({exc})") from None
    return Inspection(where, found, {row[0]: int(row[1]) for row in rows})


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class Copied:
    tables: int
    rows: int


async def copy_from_sqlite(source: Path, target: PostgresDatabase) -> Copied:
    """Copy every table of the SQLite file `source` into the PostgreSQL database `target`
    (opened here: migrated to this code's version), in one transaction; the identity
    sequences then continue after the copied ids. StorageProblem, nothing copied, when the
    file is not at this code's schema version or the target holds data already."""
    code = latest_version()
    try:
        version = file_version(source)
    except sqlite3.Error as exc:
        raise StorageProblem(f"{source}: not a SQLite database ({exc})") from None
    if version is None:
        raise StorageProblem(f"{source}: no such file")
    if version != code:
        raise StorageProblem(
            f"{source}: schema version {version}, this code's is {code}: run this version of"
            " Passerelle once on the SQLite file (or use the version that wrote it), then copy"
        )
    uri = _read_only(source)
    try:
        await target.open()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise StorageProblem(f"{target.name}: cannot connect ({_reason(exc)})") from None
    try:
        if await target.schema_version() != code:
            raise StorageProblem(
                f"{target.name}: schema version {await target.schema_version()}, this code's is"
                f" {code}: copy into a database this version of Passerelle created"
            )
        with closing(sqlite3.connect(uri, uri=True)) as sqlite:
            return await _copy(sqlite, target)
    finally:
        await target.close()


async def _copy(sqlite: sqlite3.Connection, target: PostgresDatabase) -> Copied:
    # creation order: a table refers only to tables made before it
    tables = [
        row[0]
        for row in sqlite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY rowid"
        )
    ]
    total = 0
    async with target.pool.acquire() as conn, conn.transaction():
        for table in tables:
            if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):
                raise StorageProblem(
                    f"{target.name}: not empty (table {table} holds rows): copy into an empty"
                    " database (createdb, then python -m bot migrate --from-sqlite)"
                )
        for table in tables:
            columns = [row[1] for row in sqlite.execute(f'PRAGMA table_info("{table}")')]
            kinds = dict(
                await conn.fetch(
                    "SELECT column_name, udt_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = $1",
                    table,
                )
            )
            missing = [c for c in columns if c not in kinds]
            if missing:
                raise StorageProblem(f"{target.name}: table {table} has no column {missing[0]}")
            cursor = sqlite.execute(f'SELECT {", ".join(_quoted(columns))} FROM "{table}"')
            while batch := cursor.fetchmany(BATCH):
                await conn.copy_records_to_table(
                    table, records=_typed(batch, [kinds[c] for c in columns]), columns=columns
                )
                total += len(batch)
        for table, column in identity_columns().items():
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f' COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)'
            )
    return Copied(len(tables), total)


def _quoted(columns: Sequence[str]) -> list[str]:
    return [f'"{c}"' for c in columns]


def _typed(rows: list[Any], kinds: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(_converted(v, k) for v, k in zip(row, kinds, strict=True)) for row in rows]
