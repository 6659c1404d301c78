"""Which instance leads what, as JSON: `/health` on the web server and `python -m bot health`."""

from __future__ import annotations

from typing import Any

from bot.cluster import leases, members
from bot.core.db import Database, to_db_time


async def status(db: Database, instance: str | None = None) -> dict[str, Any]:
    """Every instance heard of, its last heartbeat and the leases it holds; `instance`: the one
    asking (named first)."""
    now = db.now()
    async with db.read() as tx:
        everyone = await members.members(tx)
        held = await leases.current(tx, now=now)
    # a lease's holder is a process (`name#token`): listed under its instance's name
    by_holder: dict[str, list[str]] = {}
    for lease in held:
        by_holder.setdefault(leases.instance_of(lease.holder), []).append(lease.name)
    polling = next(
        (leases.instance_of(lease.holder) for lease in held if lease.name == leases.POLLING), None
    )
    return {
        "instance": instance,
        "now": to_db_time(now),
        "polling": polling,  # the instance that polls (polling mode), if any
        "alive": sum(1 for m in everyone if m.alive(now)),
        "instances": [
            {
                "name": m.name,
                "host": m.host,
                "pid": m.pid,
                "mode": m.mode,
                "alive": m.alive(now),
                "started_at": to_db_time(m.started_at),
                "seen_at": to_db_time(m.seen_at),
                "seen_seconds_ago": round((now - m.seen_at).total_seconds(), 1),
                "stopped_at": to_db_time(m.stopped_at) if m.stopped_at else None,
                "leases": by_holder.get(m.name, []),
            }
            for m in sorted(everyone, key=lambda m: (m.name != instance, not m.alive(now)))
        ],
    }
