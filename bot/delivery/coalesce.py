"""Coalesced refreshes of messages kept current in place (incident cards, alert tallies).

`touch(key)` asks for a refresh. At most one refresh per key runs at a time and at most one
per `min_interval` seconds; a touch during a refresh makes it run once more afterwards. Each
refresh reads the state as it is then, so a burst of changes ends with one correct message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from bot.core.db import StorageLost

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

# Refresh one key; return seconds to wait before trying again, or None when done.
Refresh = Callable[[K], Awaitable[float | None]]


class Coalescer(Generic[K]):
    def __init__(self, refresh: Refresh[K], *, min_interval: float, name: str) -> None:
        self._refresh = refresh
        self._min_interval = min_interval
        self._name = name
        self._last: dict[K, float] = {}
        self._tasks: dict[K, asyncio.Task[None]] = {}
        self._again: set[K] = set()
        self._closed = False

    def touch(self, key: K) -> None:
        if self._closed:
            return
        if key in self._tasks:
            self._again.add(key)  # the running task refreshes once more after this one
            return
        delay = max(0.0, self._last.get(key, 0.0) + self._min_interval - time.monotonic())
        self._tasks[key] = asyncio.create_task(self._run(key, delay), name=f"{self._name}:{key}")

    async def idle(self) -> None:
        """Wait until no refresh is pending (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        self._tasks.clear()

    async def _run(self, key: K, delay: float) -> None:
        try:
            while True:
                if delay > 0:
                    await asyncio.sleep(delay)
                self._again.discard(key)
                try:
                    retry_in = await self._refresh(key)
                except StorageLost as exc:  # logged once by the database: soon again
                    log.debug("event=%s_refresh_failed key=%s error=%s", self._name, key, exc)
                    retry_in = 1.0
                except Exception:
                    log.exception("event=%s_refresh_failed key=%s", self._name, key)
                    retry_in = 30.0
                self._last[key] = time.monotonic()
                if retry_in is not None:
                    delay = retry_in
                elif key in self._again:
                    delay = self._min_interval
                else:
                    return
        finally:
            self._tasks.pop(key, None)
