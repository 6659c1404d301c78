"""Leases: what one instance among several on one database does alone, for a while.

A lease (the `leases` table) names what is held (`polling`, `live:card:-100101:12`,
`job:alert-reminders`), its holder (an instance's name) and until when. Taking it is one
statement, atomic on SQLite and on PostgreSQL alike: an upsert that succeeds only if nobody
holds the lease, its holder is the taker (a renewal), or the holder's time ran out. An instance
that dies (SIGKILL) releases nothing: its leases expire and another takes them.

`take` also runs inside a unit of work: a job's claim of its run then lands with the run's
effects or not at all (a run cut short by a crash leaves no claim behind).

Times are the instances' clocks (UTC): keep them synchronised (NTP), well within the shortest
lease (seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.db import Database, Tx, from_db_time, to_db_time, utcnow

POLLING = "polling"  # the polling leader's lease (bot.delivery.leader)

# Took (or renewed) the lease: one row back. Held by another, still valid: none.
_TAKE = (
    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
    " WHERE leases.holder = excluded.holder OR leases.expires_at < ?"
    " RETURNING holder"
)


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: datetime

    def valid(self, now: datetime | None = None) -> bool:
        return self.expires_at >= (now or utcnow())


async def take(
    tx: Tx, name: str, holder: str, until: datetime, now: datetime | None = None
) -> bool:
    """Take or renew `name` for `holder` until `until`, in the caller's transaction; False if
    another holds it still."""
    moment = now or utcnow()
    taken = await tx.all(_TAKE, (name, holder, to_db_time(until), to_db_time(moment)))
    return bool(taken)


class Leases:
    """One instance's leases: each call is one short transaction of one statement."""

    def __init__(self, db: Database, holder: str) -> None:
        self.db = db
        self.holder = holder

    async def acquire(self, name: str, seconds: float) -> bool:
        """Take `name` for `seconds` (or renew it, if held already); False if another holds it."""
        now = utcnow()
        async with self.db.unit(exclusive=False) as unit:
            return await take(unit, name, self.holder, now + timedelta(seconds=seconds), now)

    renew = acquire

    async def release(self, name: str) -> None:
        """Give `name` up at once (only if held)."""
        async with self.db.unit(exclusive=False) as unit:
            await unit.execute(
                "DELETE FROM leases WHERE name = ? AND holder = ?", (name, self.holder)
            )


async def forget_expired(db: Database, older_than: timedelta) -> int:
    """Leases expired this long ago (a live message's, a job's claim of a past run)."""
    cutoff = to_db_time(utcnow() - older_than)
    async with db.unit(exclusive=False) as unit:
        return await unit.execute("DELETE FROM leases WHERE expires_at < ?", (cutoff,))


async def current(tx: Tx, holder: str | None = None) -> list[Lease]:
    """The leases still valid (of one holder, or everyone's), by name."""
    now = to_db_time(utcnow())
    if holder is None:
        rows = await tx.all(
            "SELECT name, holder, expires_at FROM leases WHERE expires_at >= ? ORDER BY name",
            (now,),
        )
    else:
        rows = await tx.all(
            "SELECT name, holder, expires_at FROM leases WHERE expires_at >= ? AND holder = ?"
            " ORDER BY name",
            (now, holder),
        )
    return [Lease(r["name"], r["holder"], from_db_time(r["expires_at"])) for r in rows]


async def holder_of(tx: Tx, name: str) -> Lease | None:
    """Who holds `name` now (None: nobody, or their lease ran out)."""
    row = await tx.one(
        "SELECT name, holder, expires_at FROM leases WHERE name = ? AND expires_at >= ?",
        (name, to_db_time(utcnow())),
    )
    if row is None:
        return None
    return Lease(row["name"], row["holder"], from_db_time(row["expires_at"]))
