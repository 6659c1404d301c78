"""The database: units of work over SQLite (embedded, the default) or PostgreSQL (several
instances on one server). Services import from here; what differs between the two backends
lives in this package only (bot.core.db.dialect)."""

from __future__ import annotations

from bot.core.db.base import (
    DEFERRED_DELAY,
    AlreadyProcessed,
    Database,
    Row,
    Tx,
    UnitOfWork,
    from_db_time,
    to_db_time,
    utcnow,
)
from bot.core.db.sqlite import SqliteDatabase

__all__ = [
    "DEFERRED_DELAY",
    "AlreadyProcessed",
    "Database",
    "Row",
    "SqliteDatabase",
    "Tx",
    "UnitOfWork",
    "from_db_time",
    "to_db_time",
    "utcnow",
]
