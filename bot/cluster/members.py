"""The instances that share one database, each known by its heartbeat (the `instances` table).

Every instance writes its row every HEARTBEAT_EVERY seconds; one not heard of for ALIVE_WITHIN
seconds is taken for dead (SIGKILL, a machine gone): the live ones share Telegram's pace
between them (bot.delivery.pace), and /health lists them all. Times are the database server's
(`Database.now`), measured again with every heartbeat.

The row is keyed by the instance's name, so each instance needs a name of its own. An instance
that starts while another process alive has its name refuses to start (InstanceNameTaken);
one that finds, at a heartbeat, its row written by another process since its last says so
(event=instance_name_clash) and, if it is the newer of the two, gives up polling.
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

_COLUMNS = "name, host, pid, mode, started_at, seen_at, stopped_at"

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 2.0  # seconds
ALIVE_WITHIN = 6.0  # seconds since the last heartbeat
FORGET_AFTER = timedelta(days=7)  # rows of instances gone this long are dropped (upkeep)

# The rows of a queue (claimed_by, claimed_until) that an instance which starts takes back at
# once: what it (this name) had claimed, what an instance no longer alive had claimed, what
# nobody claimed. The claims of the other instances alive stay theirs until they run out.
# Parameters: releasable_claims(name, now).
RELEASABLE_CLAIMS = (
    "(claimed_until IS NULL OR claimed_by IS NULL OR claimed_by = ? OR claimed_by NOT IN"
    " (SELECT name FROM instances WHERE stopped_at IS NULL AND seen_at >= ?))"
)


def releasable_claims(name: str, now: datetime) -> tuple[str, str]:
    """RELEASABLE_CLAIMS' parameters for the instance `name` starting at `now` (the database's
    time)."""
    return name, to_db_time(now - timedelta(seconds=ALIVE_WITHIN))


@dataclass(frozen=True)
class Member:
    name: str
    host: str
    pid: int
    mode: str
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None

    @property
    def process(self) -> tuple[str, int, datetime]:
        """Which process wrote the row: its host, its pid, when it started."""
        return (self.host, self.pid, self.started_at)

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
    rows = await tx.all(f"SELECT {_COLUMNS} FROM instances ORDER BY seen_at DESC, name")
    return [_member(row) for row in rows]


async def forget_gone(db: Database, older_than: timedelta = FORGET_AFTER) -> int:
    cutoff = to_db_time(db.now() - older_than)
    async with db.unit(exclusive=False) as unit:
        return await unit.execute("DELETE FROM instances WHERE seen_at < ?", (cutoff,))


def _running(pid: int) -> bool:
    """Whether a process `pid` runs on this machine (as far as this process can see)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's: it runs
        return True
    return True


class InstanceNameTaken(Exception):
    """Another process alive runs under this instance's name: this one does not start."""

    def __init__(self, name: str, other: Member) -> None:
        super().__init__(
            f"[instance] name {name!r} is used by another instance alive, on host {other.host}"
            f" (pid {other.pid}): give each instance its own [instance] name"
        )
        self.other = other


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
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = utcnow()
        self.alive = 1
        # another process writing this name's row (its last heartbeat found), while it lasts
        self.namesake: Member | None = None
        self._namesake_seen = utcnow()
        self._task: asyncio.Task[None] | None = None

    @property
    def process(self) -> tuple[str, int, datetime]:
        return (self.host, self.pid, self.started_at)

    @property
    def yields(self) -> bool:
        """Whether this process gives up leading to a namesake: the newer of the two does.

        Its leases are its own (bot.cluster.leases, a holder per process), so the two never
        both hold one; but what goes by the name alone (the heartbeat's row, hence the pace's
        count, and the outbox claims) is one for two processes, and either may stop at any
        time. The newer yields: the older one passed its start check and has been doing the
        work, so it keeps polling, and the bot goes on while the operator (event=
        instance_name_clash, on both) renames one. Both yielding would leave nobody to poll."""
        return self.namesake is not None and self._newer_than(self.namesake)

    def _newer_than(self, other: Member) -> bool:
        return (self.started_at, self.host, self.pid) > (other.started_at, other.host, other.pid)

    async def start(self) -> None:
        """The first heartbeat; InstanceNameTaken if another process alive has this name."""
        await self.db.measure_clock()
        self.started_at = self.db.now()
        other = await self._namesake_alive()
        if other is not None:
            raise InstanceNameTaken(self.name, other)
        await self.beat()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="heartbeat")
        log.info("event=instance_started host=%s pid=%d", self.host, self.pid)

    async def _row(self) -> Member | None:
        async with self.db.read() as tx:
            row = await tx.one(f"SELECT {_COLUMNS} FROM instances WHERE name = ?", (self.name,))
        return _member(row) if row is not None else None

    async def _namesake_alive(self) -> Member | None:
        """Another process of this name whose heartbeats go on. A row that merely looks alive
        (its process died less than ALIVE_WITHIN ago: a restart after a crash) is waited out:
        alive is what beats again (at most ALIVE_WITHIN seconds)."""
        first = await self._row()
        if first is None or not first.alive(self.db.now()):
            return None
        if first.host == self.host and (first.pid == self.pid or not _running(first.pid)):
            # this machine's process that wrote it is gone (restarted by a service manager;
            # in a container, the same pid 1): no need to wait
            return None
        log.info(
            "event=instance_name_check host=%s pid=%d: waiting for its next heartbeat",
            first.host,
            first.pid,
        )
        while True:
            await asyncio.sleep(self.every / 4)
            row = await self._row()
            if row is None or not row.alive(self.db.now()):
                return None  # gone (stopped, or its heartbeats ended)
            if row.seen_at != first.seen_at or row.process != first.process:
                return row  # it beats

    async def stop(self) -> None:
        """A clean stop: the others count one instance less at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            with contextlib.suppress(Exception):  # a database already gone: the row ages out
                async with self.db.unit(exclusive=False) as unit:
                    # this process's row only (not a namesake's that overwrote it)
                    await unit.execute(
                        "UPDATE instances SET stopped_at = ? WHERE name = ? AND host = ?"
                        " AND pid = ? AND started_at = ?",
                        (
                            to_db_time(self.db.now()),
                            self.name,
                            self.host,
                            self.pid,
                            to_db_time(self.started_at),
                        ),
                    )

    async def beat(self) -> None:
        await self.db.measure_clock()
        now = self.db.now()
        async with self.db.unit(exclusive=False) as unit:
            found = await unit.one(f"SELECT {_COLUMNS} FROM instances WHERE name = ?", (self.name,))
            await unit.execute(
                "INSERT INTO instances (name, host, pid, mode, started_at, seen_at, stopped_at)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (name) DO UPDATE SET"
                " host = excluded.host, pid = excluded.pid, mode = excluded.mode,"
                " started_at = excluded.started_at, seen_at = excluded.seen_at, stopped_at = NULL",
                (
                    self.name,
                    self.host,
                    self.pid,
                    self.mode,
                    to_db_time(self.started_at),
                    to_db_time(now),
                ),
            )
            counted = await unit.one(
                "SELECT COUNT(*) AS n FROM instances WHERE stopped_at IS NULL AND seen_at >= ?",
                (to_db_time(now - timedelta(seconds=ALIVE_WITHIN)),),
            )
        self._check_namesake(_member(found) if found is not None else None, now)
        alive = max(1, int(counted["n"]) if counted is not None else 1)
        if self.namesake is not None:
            alive += 1  # the namesake shares the row, and the pace
        if alive != self.alive:
            log.info("event=instances_alive count=%d", alive)
        self.alive = alive
        if self.on_alive is not None:
            self.on_alive(alive)

    def _check_namesake(self, found: Member | None, now: datetime) -> None:
        """The row as this heartbeat found it: written by another process alive since the last
        one (since the start check, at the first), a namesake."""
        if found is not None and found.process != self.process and found.alive(now):
            if self.namesake is None or self.namesake.process != found.process:
                log.error(
                    "event=instance_name_clash name=%s other_host=%s other_pid=%d yields=%s:"
                    " another process runs under this instance's name; give each instance its"
                    " own [instance] name",
                    self.name,
                    found.host,
                    found.pid,
                    "this" if self._newer_than(found) else "other",
                )
            self.namesake = found
            self._namesake_seen = now
        elif self.namesake is not None and now - self._namesake_seen > timedelta(
            seconds=ALIVE_WITHIN
        ):
            log.warning("event=instance_name_clash_over name=%s", self.name)
            self.namesake = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.beat()
            except StorageLost as exc:  # logged once by the database (event=storage_lost)
                log.debug("event=heartbeat_failed error=%s", exc)
            except Exception:
                log.exception("event=heartbeat_failed")
