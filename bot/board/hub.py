"""Live changes for the open boards: which incidents changed, to every board allowed to see them.

Every committed unit of work hands the incidents it changed to `Hub.changed` (through
`Runtime.apply`): a set is noted, nothing is read, so the bot's updates pay next to nothing.
The hub's own task then waits a moment (`coalesce`: changes close together become one event
per incident), reads the changed incidents' versions in one read, and sends each open board an
event for those its person may see. Writes by another process (a command-line import) never
pass through `Runtime.apply`: the database's `data_version()` (SQLite's PRAGMA data_version;
on PostgreSQL, the other instances' commits notified), read every `poll` seconds, tells
that one happened, and the open incidents' versions are compared with the last known.

Events are numbered (`seq`, the SSE `id`), starting from the clock in milliseconds, so that a
number from before a restart is always older than what the hub remembers. The last `remember`
events are kept: a board that reconnects with `Last-Event-ID` gets what it missed, or `resync`
(refetch everything) when it missed more than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.board import views
from bot.core.db import Database, StorageLost

log = logging.getLogger(__name__)

COALESCE = 0.2  # seconds
POLL = 1.0  # seconds
REMEMBER = 1024  # events
QUEUE = 256  # events waiting for one slow board before it is told to resync
RESYNC = "resync"

# which of these incidents a person may see (bot.board.access, wired by the server)
Visible = Callable[[int, set[int]], Awaitable[set[int]]]


@dataclass(frozen=True)
class Event:
    seq: int
    ref: int
    version: int


@dataclass(eq=False)
class Subscriber:
    person_id: int
    queue: asyncio.Queue[Event | str] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE))

    def put(self, item: Event | str) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # a board that cannot keep up refetches everything instead
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)


class Hub:
    def __init__(
        self,
        db: Database,
        visible: Visible,
        *,
        coalesce: float = COALESCE,
        poll: float = POLL,
        remember: int = REMEMBER,
    ) -> None:
        self._db = db
        self._visible = visible
        self._coalesce = coalesce
        self._poll = poll
        self._events: deque[Event] = deque(maxlen=remember)
        self._seq = int(time.time() * 1000)
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self._versions: dict[int, int] = {}
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._data_version: int | None = None
        self.published = 0  # events made (the benchmark reads it)

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def boards(self) -> int:
        return len(self._subscribers)

    def changed(self, refs: Iterable[int]) -> None:
        """A unit of work changed these incidents (called after its commit; reads nothing)."""
        self._dirty.update(refs)
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="board-hub")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscriber in list(self._subscribers):
            subscriber.put(RESYNC)

    def subscribe(self, person_id: int) -> Subscriber:
        subscriber = Subscriber(person_id)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def missed(self, person_id: int, last_seq: int) -> list[Event] | None:
        """What a board that saw event `last_seq` missed (those its person may see), or None
        when the hub no longer remembers that far back (the board resyncs)."""
        if last_seq > self._seq:
            return None  # a number from another run of the hub
        if last_seq == self._seq:
            return []
        if not self._events or last_seq < self._events[0].seq - 1:
            return None
        after = [event for event in self._events if event.seq > last_seq]
        allowed = await self._visible(person_id, {event.ref for event in after})
        return [event for event in after if event.ref in allowed]

    # ---- the hub's task --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            try:
                if self._wake.is_set():
                    await asyncio.sleep(self._coalesce)
                    self._wake.clear()
                    refs, self._dirty = self._dirty, set()
                    await self._publish(refs)
                else:
                    await self._poll_other_writers()
            except asyncio.CancelledError:
                raise
            except StorageLost as exc:  # logged once by the database (event=storage_lost)
                log.debug("event=board_hub_error error=%s", exc)
                await asyncio.sleep(self._poll)
            except Exception:  # a database hiccup must not end the live board
                log.exception("event=board_hub_error")
                await asyncio.sleep(self._poll)

    async def _poll_other_writers(self) -> None:
        version = await self._db.data_version()
        before, self._data_version = self._data_version, version
        if before is None or before == version or not self._subscribers:
            return
        async with self._db.read_apart() as tx:
            rows = await tx.all("SELECT id FROM incidents WHERE status != 'closed'")
            current = await views.versions_in(tx, (row["id"] for row in rows))
        changed = {ref for ref, v in current.items() if self._versions.get(ref) != v}
        await self._publish(changed, current)

    async def _publish(self, refs: set[int], known: dict[int, int] | None = None) -> None:
        if not refs:
            return
        if known is None:
            async with self._db.read() as tx:
                known = await views.versions_in(tx, refs)
        events = []
        for ref in sorted(refs):
            version = known.get(ref)
            if version is None:
                continue
            self._versions[ref] = version
            self._seq += 1
            event = Event(self._seq, ref, version)
            self._events.append(event)
            events.append(event)
        self.published += len(events)
        if not events or not self._subscribers:
            return
        changed = {event.ref for event in events}
        by_person: dict[int, list[Subscriber]] = {}
        for subscriber in self._subscribers:
            by_person.setdefault(subscriber.person_id, []).append(subscriber)
        for person_id, subscribers in by_person.items():
            allowed = await self._visible(person_id, changed)
            for event in events:
                if event.ref in allowed:
                    for subscriber in subscribers:
                        subscriber.put(event)
