"""The database: units of work over SQLite (embedded, the default) or PostgreSQL (several
instances on one server). Services import from here; what differs between the two backends
lives in this package only (bot.core.db.dialect)."""

from __future__ import annotations

from bot.core.config import StorageSettings
from bot.core.db.base import (
    DEFERRED_DELAY,
    AlreadyProcessed,
    Database,
    Row,
    StorageLost,
    StorageProblem,
    Tx,
    UnitOfWork,
    from_db_time,
    to_db_time,
    utcnow,
)
from bot.core.db.postgres import PostgresDatabase
from bot.core.db.sqlite import SqliteDatabase


def database_for(storage: StorageSettings) -> Database:
    """The database the configuration names: PostgreSQL at `[storage] url`, else the SQLite
    file at `[storage] path`."""
    if storage.url:
        return PostgresDatabase(storage.url)
    return SqliteDatabase(storage.path)


__all__ = [
    "DEFERRED_DELAY",
    "AlreadyProcessed",
    "Database",
    "PostgresDatabase",
    "Row",
    "SqliteDatabase",
    "StorageLost",
    "StorageProblem",
    "Tx",
    "UnitOfWork",
    "database_for",
    "from_db_time",
    "to_db_time",
    "utcnow",
]
