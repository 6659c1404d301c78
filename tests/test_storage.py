"""The database layer itself: units of work on the loop that never block it, long reads apart,
and the upkeep that keeps the file fast over months (claims dropped once Telegram can no
longer deliver their updates again, the write-ahead log copied back)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.db import (
    AlreadyProcessed,
    Database,
    PostgresDatabase,
    SqliteDatabase,
    to_db_time,
    utcnow,
)
from tests import backends


@pytest.fixture
async def fresh(tmp_path: Path, backend: str) -> Database:
    db: Database = (
        PostgresDatabase(backends.current)
        if backends.current
        else SqliteDatabase(tmp_path / "store.db")
    )
    await db.open()
    yield db  # type: ignore[misc]
    await db.close()


@pytest.mark.sqlite_only
async def test_a_unit_waits_for_another_process_without_blocking_the_loop(
    fresh: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a command-line import holds the write lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    running = asyncio.create_task(ticker())

    async def claim() -> None:
        async with fresh.unit(update_id=1):
            pass

    waiting = asyncio.create_task(claim())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    assert ticks >= 20  # the loop went on while the unit waited
    other.execute("COMMIT")
    await asyncio.wait_for(waiting, 2)
    running.cancel()
    other.close()
    assert await fresh.claimed(1)


async def test_a_read_apart_sees_what_was_committed_and_writes_nothing(fresh: Database) -> None:
    async with fresh.unit(update_id=7):
        pass
    async with fresh.read_apart() as tx:
        row = await tx.one("SELECT count(*) FROM processed_updates WHERE update_id = 7")
        assert row is not None and row[0] == 1
        with pytest.raises(RuntimeError):
            await tx.execute("DELETE FROM processed_updates")
    assert await fresh.claimed(7)


async def test_old_claims_are_dropped_recent_ones_kept(fresh: Database) -> None:
    old = to_db_time(utcnow() - timedelta(hours=100))
    recent = to_db_time(utcnow() - timedelta(hours=30))
    async with fresh.unit() as unit:
        await unit.executemany(
            "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)",
            [(n, old) for n in range(1, 8)] + [(n, recent) for n in range(8, 11)],
        )
    assert await fresh.forget_claims(timedelta(hours=72), batch=3) == 7
    assert not await fresh.claimed(1)
    # a claim Telegram could still deliver again is kept: its update stays refused
    with pytest.raises(AlreadyProcessed):
        async with fresh.unit(update_id=9):
            pass


@pytest.mark.sqlite_only
async def test_a_checkpoint_empties_the_write_ahead_log(fresh: Database, tmp_path: Path) -> None:
    async with fresh.unit() as unit:
        await unit.executemany(
            "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)",
            [(n, to_db_time(utcnow())) for n in range(1, 2000)],
        )
    wal = tmp_path / "store.db-wal"
    assert wal.stat().st_size > 0
    await fresh.checkpoint(truncate=True)
    assert wal.stat().st_size == 0
