"""Leases: what one instance among several on one database does alone, for a while.

A lease (the `leases` table) names what is held (`polling`, `live:card:-100101:12`,
`job:alert-reminders`), its holder and until when. The holder is one process, not one name:
the instance's name and a token drawn at start (`a#3f9c2e`, `holder_for`), so that two
processes given the same `[instance] name` by mistake never both hold a lease, even if they
started at the same moment (bot.cluster.members refuses the second when it can tell).

Taking a lease is one statement, atomic on SQLite and on PostgreSQL alike: an upsert that
succeeds only if nobody holds the lease, its holder is the taker (a renewal), or the holder's
time ran out. An instance that dies (SIGKILL) releases nothing: its leases expire and another
takes them.

`take` also runs inside a unit of work: a job's claim of its run then lands with the run's
effects or not at all (a run cut short by a crash leaves no claim behind).

Times are the database server's (`Database.now`: this machine's clock corrected by the offset
measured at start and with every heartbeat), so instances whose clocks differ still agree on
when a lease runs out; an offset beyond a second is logged (event=clock_offset).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.db import Database, Tx, from_db_time, to_db_time, utcnow

POLLING = "polling"  # the polling leader's lease (bot.delivery.leader)
# between an instance's name and its process's token ("#" is not allowed in a name)
_TOKEN = "#"


def holder_for(name: str) -> str:
    """This process's holder identity: the instance's name and a token of its own."""
    return f"{name}{_TOKEN}{secrets.token_hex(3)}"


def instance_of(holder: str) -> str:
    """The instance's name in a holder (what /health shows)."""
    return holder.split(_TOKEN, 1)[0]


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
    """One instance's leases (`holder`: this process, holder_for): each call is one short
    transaction of one statement."""

    def __init__(self, db: Database, holder: str) -> None:
        self.db = db
        self.holder = holder

    async def acquire(self, name: str, seconds: float) -> bool:
        """Take `name` for `seconds` (or renew it, if held already); False if another holds it."""
        now = self.db.now()
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
    cutoff = to_db_time(db.now() - older_than)
    async with db.unit(exclusive=False) as unit:
        return await unit.execute("DELETE FROM leases WHERE expires_at < ?", (cutoff,))


async def current(tx: Tx, holder: str | None = None, now: datetime | None = None) -> list[Lease]:
    """The leases still valid (of one holder, or everyone's), by name; `now`: the database's
    time (Database.now)."""
    moment = to_db_time(now or utcnow())
    if holder is None:
        rows = await tx.all(
            "SELECT name, holder, expires_at FROM leases WHERE expires_at >= ? ORDER BY name",
            (moment,),
        )
    else:
        rows = await tx.all(
            "SELECT name, holder, expires_at FROM leases WHERE expires_at >= ? AND holder = ?"
            " ORDER BY name",
            (moment, holder),
        )
    return [Lease(r["name"], r["holder"], from_db_time(r["expires_at"])) for r in rows]


async def holder_of(tx: Tx, name: str, now: datetime | None = None) -> Lease | None:
    """Who holds `name` now (None: nobody, or their lease ran out)."""
    row = await tx.one(
        "SELECT name, holder, expires_at FROM leases WHERE name = ? AND expires_at >= ?",
        (name, to_db_time(now or utcnow())),
    )
    if row is None:
        return None
    return Lease(row["name"], row["holder"], from_db_time(row["expires_at"]))
