"""The instances that share one database, each known by its heartbeat (the `instances` table).

Every instance writes its row every HEARTBEAT_EVERY seconds; one not heard of for ALIVE_WITHIN
seconds is taken for dead (SIGKILL, a machine gone): the live ones share Telegram's overall
pace between them (bot.delivery.pace), and /health lists them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.db import Database, Row, StorageLost, Tx, from_db_time, to_db_time, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 2.0  # seconds
ALIVE_WITHIN = 6.0  # seconds since the last heartbeat
FORGET_AFTER = timedelta(days=7)  # rows of instances gone this long are dropped (upkeep)


@dataclass(frozen=True)
class Member:
    name: str
    host: str
    pid: int
    mode: str
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None

    def alive(self, now: datetime | None = None) -> bool:
        moment = now or utcnow()
        return self.stopped_at is None and self.seen_at >= moment - timedelta(seconds=ALIVE_WITHIN)


def _member(row: Row) -> Member:
    stopped = row["stopped_at"]
    return Member(
        name=row["name"],
        host=row["host"],
        pid=int(row["pid"]),
        mode=row["mode"],
        started_at=from_db_time(row["started_at"]),
        seen_at=from_db_time(row["seen_at"]),
        stopped_at=from_db_time(stopped) if stopped else None,
    )


async def members(tx: Tx) -> list[Member]:
    """Every instance ever heard of (and not forgotten), the last seen first."""
    rows = await tx.all(
        "SELECT name, host, pid, mode, started_at, seen_at, stopped_at FROM instances"
        " ORDER BY seen_at DESC, name"
    )
    return [_member(row) for row in rows]


async def forget_gone(db: Database, older_than: timedelta = FORGET_AFTER) -> int:
    cutoff = to_db_time(utcnow() - older_than)
    async with db.unit(exclusive=False) as unit:
        return await unit.execute("DELETE FROM instances WHERE seen_at < ?", (cutoff,))


class Presence:
    """This instance's heartbeat, and how many instances are alive (itself included)."""

    def __init__(
        self,
        db: Database,
        name: str,
        mode: str,
        *,
        every: float = HEARTBEAT_EVERY,
        on_alive: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.mode = mode
        self.every = every
        self.on_alive = on_alive
        self.started_at = utcnow()
        self.alive = 1
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.beat()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="heartbeat")
        log.info("event=instance_started host=%s pid=%d", socket.gethostname(), os.getpid())

    async def stop(self) -> None:
        """A clean stop: the others count one instance less at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            with contextlib.suppress(Exception):  # a database already gone: the row ages out
                async with self.db.unit(exclusive=False) as unit:
                    await unit.execute(
                        "UPDATE instances SET stopped_at = ? WHERE name = ?",
                        (to_db_time(utcnow()), self.name),
                    )

    async def beat(self) -> None:
        now = utcnow()
        async with self.db.unit(exclusive=False) as unit:
            await unit.execute(
                "INSERT INTO instances (name, host, pid, mode, started_at, seen_at, stopped_at)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (name) DO UPDATE SET"
                " host = excluded.host, pid = excluded.pid, mode = excluded.mode,"
                " started_at = excluded.started_at, seen_at = excluded.seen_at, stopped_at = NULL",
                (
                    self.name,
                    socket.gethostname(),
                    os.getpid(),
                    self.mode,
                    to_db_time(self.started_at),
                    to_db_time(now),
                ),
            )
            found = await unit.one(
                "SELECT COUNT(*) AS n FROM instances WHERE stopped_at IS NULL AND seen_at >= ?",
                (to_db_time(now - timedelta(seconds=ALIVE_WITHIN)),),
            )
        alive = max(1, int(found["n"]) if found is not None else 1)
        if alive != self.alive:
            log.info("event=instances_alive count=%d", alive)
        self.alive = alive
        if self.on_alive is not None:
            self.on_alive(alive)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.beat()
            except StorageLost as exc:  # logged once by the database (event=storage_lost)
                log.debug("event=heartbeat_failed error=%s", exc)
            except Exception:
                log.exception("event=heartbeat_failed")
