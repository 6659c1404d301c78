"""What runs beside the handlers while the bot is up: settings, database, the outbox sender and
the live-message publisher; and how a unit of work's effects are applied once it committed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from bot.cluster.leases import Leases
from bot.cluster.members import Presence
from bot.core.backup import Schedule
from bot.core.config import Settings
from bot.core.db import Database, UnitOfWork
from bot.core.effects import Effects
from bot.core.inuse import Holding
from bot.delivery.leader import PollingLeader
from bot.delivery.live import LiveMessages
from bot.delivery.outbox import OutboxSender
from bot.evidence.keeper import Keeper

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    live_messages: LiveMessages | None = field(default=None)
    sender: OutboxSender | None = field(default=None)
    # offer time-outs: a job at that moment (the application's job queue)
    schedule: Callable[[datetime], None] | None = field(default=None)
    # downloads the files sent to the timelines (started beside the outbox sender)
    keeper: Keeper | None = field(default=None)
    # told which incidents a committed unit of work changed (the situation board's live pages)
    on_incidents: Callable[[set[int]], None] | None = field(default=None)
    # among several instances on one database: this one's leases, its heartbeat, and (polling
    # mode) whether it is the one that polls
    leases: Leases | None = field(default=None)
    presence: Presence | None = field(default=None)
    leader: PollingLeader | None = field(default=None)

    @property
    def instance(self) -> str:
        return self.settings.instance.name

    # the database file's lock, held while the bot has it open (a restore waits for its end)
    in_use: Holding | None = field(default=None)
    # backups taken on schedule ([storage] backup_every), if configured
    backups: Schedule | None = field(default=None)

    @property
    def live(self) -> LiveMessages:
        if self.live_messages is None:
            raise RuntimeError("the live-message publisher starts with the application")
        return self.live_messages

    @property
    def outbox(self) -> OutboxSender:
        if self.sender is None:
            raise RuntimeError("the outbox sender starts with the application")
        return self.sender

    async def apply(self, effects: Effects) -> None:
        """What a committed unit of work left to do: refresh live messages, wake the outbox,
        schedule offer time-outs, then the handler's own Telegram work (its answer)."""
        for live in sorted(effects.live):
            self.live.touch(live)
        if effects.incidents and self.on_incidents is not None:
            self.on_incidents(effects.incidents)
        if effects.catch_up:
            await self.live.catch_up()
        if effects.outbox:
            self.outbox.wake()
        if effects.files and self.keeper is not None:
            self.keeper.wake()
        if effects.expiries:
            if self.schedule is None:
                log.error("event=no_job_queue: offer time-outs need the job queue")
            else:
                for moment in sorted(effects.expiries):
                    self.schedule(moment)
        for work in effects.after:
            await work()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work outside an update (jobs, the outbox's hooks): committed when the
        block ends, then its effects applied."""
        async with self.db.unit() as unit:
            yield unit
        await self.apply(unit.effects)
