"""Group commit, measured before it is built: what a timeline reply's unit of work costs when
each commits alone, and when the units ready together commit as one transaction (each in its
own savepoint, so each stays all-or-nothing), with SQLite's `synchronous` at NORMAL (the
bot's setting: durable through a crash of the process) and at FULL (through a power cut too:
every commit waits for the disk).

In-process, on the real schema, the unit written as the bot's (bench.scale's reply unit:
claim, the gate's read, the note on the timeline, the card's version).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from bench.common import Metric, Results
from bench.generate import PERSON_BASE, Scale, build, chat_ids
from bot.core.db import SqliteDatabase, UnitOfWork
from bot.core.directory import gate_lookup
from bot.core.models import Author
from bot.incidents import service as incidents

# ids of the updates the measured units claim: new ones every time
_UPDATE_IDS = itertools.count(800_000_000)
GROUP = 16  # units per shared transaction: about what arrives together at 1,000 updates/s
UNITS = 2_000


def _metrics(results: Results) -> None:
    for key, label in (
        ("commit_normal_alone", "commit: a reply's unit, committed alone (NORMAL)"),
        ("commit_normal_group", f"commit: the same, {GROUP} per transaction (NORMAL)"),
        ("commit_full_alone", "commit: a reply's unit, committed alone (FULL)"),
        ("commit_full_group", f"commit: the same, {GROUP} per transaction (FULL)"),
    ):
        results.define(Metric(key, label, "µs", digits=0))


async def _units(db: SqliteDatabase, scale: Scale, grouped: bool, count: int) -> float:
    """Microseconds per unit of work."""
    ops = chat_ids(scale)["operations"]
    refs = list(range(scale.incidents * 95 // 100 + 1, scale.incidents + 1))
    author = Author(PERSON_BASE + 1, "Person 1", "person1")
    ids = _UPDATE_IDS
    conn = db.conn

    async def body(i: int, tx: UnitOfWork) -> None:
        await gate_lookup(tx, person_id=author.id, chat_id=ops[i % len(ops)])
        incident = await incidents.incident_in(tx, refs[i % len(refs)])
        assert incident is not None
        await incidents.add_note(
            tx,
            ref=incident.ref,
            text=f"point {i}",
            author=author,
            chat_id=incident.chat_id,
            message_id=i,
        )

    started = time.perf_counter()
    if not grouped:
        for i in range(count):
            async with db.unit(update_id=next(ids)) as unit:
                await body(i, unit)
    else:
        for start in range(0, count, GROUP):
            unit = await db.begin()
            for i in range(start, min(count, start + GROUP)):
                # each update all-or-nothing: its claim and writes in a savepoint of its own
                conn.execute(f"SAVEPOINT u{i}")
                await unit.claim(next(ids))
                await body(i, unit)
                conn.execute(f"RELEASE SAVEPOINT u{i}")
            await unit.commit()
    return (time.perf_counter() - started) / count * 1e6


async def run_once(workdir: Path, results: Results, quick: bool = False) -> None:
    _metrics(results)
    scale = Scale(incidents=2_000, entries=20_000, units=100, chats=100, people=200, claims=2_000)
    path = workdir / "commit.db"
    await build(path, scale)
    count = 200 if quick else UNITS
    db = SqliteDatabase(path)
    await db.open()
    try:
        for sync in ("normal", "full"):
            db.conn.execute(f"PRAGMA synchronous = {sync.upper()}")
            results.add(f"commit_{sync}_alone", await _units(db, scale, False, count))
            results.add(f"commit_{sync}_group", await _units(db, scale, True, count))
    finally:
        await db.close()


if __name__ == "__main__":
    out = Results()
    asyncio.run(run_once(Path("/tmp"), out))
    print(out.table(1))
