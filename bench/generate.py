"""A big database for the scale benchmark, built with SQL on the real schema.

    python -m bench.generate OUT.db [--incidents 10000] [--entries 200000] [--units 5000]
                                    [--chats 500]

The schema comes from the real migrations (bot.db.Database opens the file once); the rows
are then inserted in bulk with sqlite3. Fictitious, deterministic (seeded) data.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.db import SqliteDatabase
from bot.core.models import ResourceType, UnitStatus

PERSON_BASE = 20_000_000
CHAT_BASE = -1005000000000


@dataclass(frozen=True)
class Scale:
    incidents: int = 10_000
    entries: int = 200_000
    units: int = 5_000
    chats: int = 500
    people: int = 2_000
    # updates claimed (processed_updates), spread evenly over `days` before now: a database
    # that ran that long without its upkeep
    claims: int = 200_000
    days: int = 400


def chat_ids(scale: Scale) -> dict[str, list[int]]:
    """Operations (40 %), liaison (10 %) and agency (50 %) chats."""
    ops = max(1, scale.chats * 4 // 10)
    liaison = max(1, scale.chats // 10)
    ids = [CHAT_BASE - i for i in range(scale.chats)]
    return {
        "operations": ids[:ops],
        "liaison": ids[ops : ops + liaison],
        "agency": ids[ops + liaison :],
    }


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


async def _schema(path: Path) -> None:
    db = SqliteDatabase(path)
    await db.open()
    await db.close()


def generate(path: Path, scale: Scale, seed: int = 7) -> None:
    asyncio.run(build(path, scale, seed))


async def build(path: Path, scale: Scale, seed: int = 7) -> None:
    """The schema by the real migrations, then the rows in bulk (blocking: run it alone)."""
    path.unlink(missing_ok=True)  # noqa: ASYNC240 - nothing else runs meanwhile
    await _schema(path)
    _fill(path, scale, seed)


def _fill(path: Path, scale: Scale, seed: int) -> None:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    kinds = chat_ids(scale)
    created = _time(now - timedelta(days=400))
    langs = ("fr", "nl", "fr,nl", "en")
    chats = []
    for kind, ids in kinds.items():
        for i, chat_id in enumerate(ids):
            agency = f"Agency {i}" if kind == "agency" else None
            chats.append(
                (
                    chat_id,
                    f"{kind} {i}",
                    kind,
                    ("FR", "BE")[i % 2],
                    langs[i % 4],
                    agency,
                    "Europe/Brussels",
                    created,
                )
            )
    conn.executemany(
        "INSERT INTO chats (id, name, kind, country, languages, agency, timezone, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        chats,
    )
    people = [
        (
            PERSON_BASE + i,
            f"Person {i}",
            f"person{i}",
            "commander" if i % 10 == 0 else "",
            ("FR", "BE")[i % 2],
            created,
        )
        for i in range(scale.people)
    ]
    conn.executemany(
        "INSERT INTO people (id, name, username, roles, country, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        people,
    )
    ops = kinds["operations"]
    incidents = []
    cards = []
    for ref in range(1, scale.incidents + 1):
        chat_id = ops[ref % len(ops)]
        declared = now - timedelta(minutes=scale.incidents - ref)
        # the last 5 % are still open
        closed = ref <= scale.incidents * 95 // 100
        incidents.append(
            (
                ref,
                chat_id,
                f"Incident {ref}",
                "fire",
                "moderate",
                "closed" if closed else "active",
                50.3 + rnd.random(),
                2.8 + rnd.random() * 1.5,
                ("FR", "BE")[ref % 2],
                PERSON_BASE + (ref % scale.people),
                _time(declared),
                _time(declared + timedelta(minutes=30)),
                _time(declared + timedelta(hours=2)) if closed else None,
            )
        )
        cards.append((ref, chat_id, 1000 + ref, 5, 5))
    conn.executemany(
        "INSERT INTO incidents (id, chat_id, title, type, severity, status, lat, lon, country,"
        " commander_id, declared_at, updated_at, closed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        incidents,
    )
    conn.executemany(
        "INSERT INTO cards (incident_id, chat_id, message_id, version, shown_version)"
        " VALUES (?, ?, ?, ?, ?)",
        cards,
    )
    conn.executemany(
        "INSERT INTO incident_messages (chat_id, message_id, incident_id) VALUES (?, ?, ?)",
        [(c[1], c[2], c[0]) for c in cards],
    )
    batch = []
    for n in range(scale.entries):
        ref = 1 + n % scale.incidents
        chat_id = ops[ref % len(ops)]
        at = (
            now - timedelta(minutes=scale.incidents - ref) + timedelta(seconds=n // scale.incidents)
        )
        batch.append(
            (
                ref,
                "note",
                PERSON_BASE + n % scale.people,
                chat_id,
                100_000 + n,
                f"note {n}: engin sur place, situation sous contrôle",
                _time(at),
            )
        )
        if len(batch) >= 20_000:
            _timeline(conn, batch)
            batch = []
    if batch:
        _timeline(conn, batch)
    step = timedelta(days=scale.days) / max(1, scale.claims)
    oldest = now - timedelta(days=scale.days)
    conn.executemany(
        "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)",
        ((500_000_000 + u, _time(oldest + u * step)) for u in range(scale.claims)),
    )
    types = list(ResourceType)
    agencies = kinds["agency"]
    units = []
    for u in range(scale.units):
        a = u % len(agencies)
        status = (UnitStatus.AVAILABLE, UnitStatus.AVAILABLE, UnitStatus.UNAVAILABLE)[u % 3]
        units.append(
            (
                f"{('FR', 'BE')[a % 2]}-A{a}-{types[u % len(types)].value[:4].upper()}-{u}",
                types[u % len(types)].value,
                f"Unit {u}",
                f"Agency {a}",
                ("FR", "BE")[a % 2],
                50.0 + rnd.random() * 1.5,
                2.5 + rnd.random() * 2.5,
                1,
                status.value,
                _time(now - timedelta(hours=rnd.random() * 48)),
                "import",
                created,
            )
        )
    conn.executemany(
        "INSERT INTO units (code, type, name, agency, country, lat, lon, capacity, status,"
        " confirmed_at, confirmed_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        units,
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.commit()
    conn.close()


def _timeline(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO timeline (incident_id, kind, author_id, chat_id, message_id, text, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate")
    parser.add_argument("out", type=Path)
    defaults = Scale()
    for name in ("incidents", "entries", "units", "chats"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    scale = Scale(args.incidents, args.entries, args.units, args.chats)
    generate(args.out, scale)
    size = args.out.stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
