"""Polling mode with several instances: exactly one asks Telegram for updates.

Telegram answers 409 Conflict to a second getUpdates on the same bot token, so the instances
elect the poller with a lease (bot.cluster.leases, `polling`): the holder polls and renews it
every RENEW_EVERY seconds for LEASE_SECONDS; the others try to take it every TRY_EVERY
seconds. When the leader dies its lease simply runs out, and another takes it and polls:
within LEASE_SECONDS + TRY_EVERY (about 6 s) plus its first getUpdates.

A leader that cannot renew (another holds the lease, or the database did not answer before
its lease ran out) stops polling at once: two pollers would take the updates from each other.
An instance that may not lead (`may_lead`: another process runs under its name and started
first, bot.cluster.members) gives the lease up and does not try again while that lasts.

Nothing confirmed is lost on the way: Telegram forgets an update only once the offset of a
later getUpdates confirms it, and the inbox (bot.delivery.inbox) confirms only what was
handled, its effects committed. What the old leader fetched and had not handled is fetched
again by the new one; an update both handle has one effect (its claim, bot.core.db).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.cluster.leases import POLLING, Leases
from bot.core.db import StorageLost

log = logging.getLogger(__name__)

LEASE_SECONDS = 5.0
RENEW_EVERY = 1.5
TRY_EVERY = 1.0


class PollingLeader:
    """Runs `start_polling` while this instance holds the polling lease, `stop_polling` when it
    no longer does."""

    def __init__(
        self,
        leases: Leases,
        start_polling: Callable[[], Awaitable[None]],
        stop_polling: Callable[[], Awaitable[None]],
        *,
        seconds: float = LEASE_SECONDS,
        renew_every: float = RENEW_EVERY,
        try_every: float = TRY_EVERY,
        may_lead: Callable[[], bool] = lambda: True,
    ) -> None:
        self._leases = leases
        self._may_lead = may_lead
        self._yielded = False
        self._start_polling = start_polling
        self._stop_polling = stop_polling
        self.seconds = seconds
        self.renew_every = renew_every
        self.try_every = try_every
        self.leading = asyncio.Event()
        self._valid_until = 0.0  # monotonic time when the lease runs out (as last renewed)
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leading(self) -> bool:
        return self.leading.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="polling-leader")

    async def stop(self) -> None:
        """Stop polling and give the lease up: another instance polls at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        # also when stopped while polling was starting (a stop signal at that moment)
        await self._resign("stopped")
        try:
            await self._leases.release(POLLING)
        except Exception:
            log.exception("event=polling_lease_release_failed")

    async def _run(self) -> None:
        while True:
            if not self._may_lead():
                await self._step_aside()
                await asyncio.sleep(self.try_every)
                continue
            self._yielded = False
            asked = time.monotonic()
            try:
                # a database that hangs must not keep a leader beyond its lease
                async with asyncio.timeout(self.renew_every):
                    held = await self._leases.acquire(POLLING, self.seconds)
                lost = not held
            except Exception as exc:
                # the database lost is logged once by the database itself (event=storage_lost)
                level = logging.DEBUG if isinstance(exc, StorageLost) else logging.WARNING
                log.log(level, "event=polling_lease_error error=%r", exc)
                held = lost = False
            if held:
                self._valid_until = asked + self.seconds
                if not self.is_leading:
                    log.info("event=polling_lead_taken lease=%.1fs", self.seconds)
                    try:
                        await self._start_polling()
                    except Exception as exc:  # Telegram unreachable: tried again while held
                        log.warning("event=polling_start_failed error=%r", exc)
                    else:
                        self.leading.set()
            elif self.is_leading and (lost or time.monotonic() >= self._valid_until - 1.0):
                await self._resign("lease lost" if lost else "lease not renewed")
            await asyncio.sleep(self.renew_every if self.is_leading else self.try_every)

    async def _step_aside(self) -> None:
        """Stop polling and give the lease up, once, while this instance may not lead."""
        if self._yielded:
            return
        await self._resign("yields to a namesake")
        try:
            await self._leases.release(POLLING)
        except Exception:
            log.exception("event=polling_lease_release_failed")
        else:
            self._yielded = True

    async def _resign(self, why: str) -> None:
        if self.is_leading:
            level = logging.INFO if why == "stopped" else logging.WARNING
            log.log(level, "event=polling_lead_left why=%s", why)
        self.leading.clear()
        try:
            await self._stop_polling()
        except Exception:
            log.exception("event=polling_stop_failed")
