"""The board's hub on its own: events numbered, what a reconnection missed, a slow board."""

from __future__ import annotations

import asyncio

from bot.board.hub import QUEUE, RESYNC, Event, Hub
from bot.core.db import Database


async def _nobody_but(person: int, refs: set[int]) -> set[int]:
    # person 1 sees every incident, person 2 only #2
    return refs if person == 1 else refs & {2}


async def test_changes_are_coalesced_numbered_and_filtered(db: Database) -> None:
    async with db.unit() as unit:
        await unit.execute(
            "INSERT INTO incidents (id, chat_id, title, status, country, declared_at,"
            " updated_at) VALUES (1, -100101, 'a', 'reported', 'BE', '2026-01-01', '2026-01-01'),"
            " (2, -100101, 'b', 'reported', 'BE', '2026-01-01', '2026-01-01')"
        )
    hub = Hub(db, _nobody_but, coalesce=0.05, poll=0.2)
    everything, only_two = hub.subscribe(1), hub.subscribe(2)
    first = hub.seq
    await hub.start()
    try:
        hub.changed({1})
        hub.changed({1, 2})  # close together: one event per incident
        got = [await asyncio.wait_for(everything.queue.get(), 2) for _ in range(2)]
        assert [(e.ref, e.seq) for e in got if isinstance(e, Event)] == [
            (1, first + 1),
            (2, first + 2),
        ]
        two = await asyncio.wait_for(only_two.queue.get(), 2)
        assert isinstance(two, Event) and two.ref == 2
        assert only_two.queue.empty()
        # a reconnection: what it missed since an event, for its person only
        assert [e.ref for e in await hub.missed(2, first)] == [2]  # type: ignore[union-attr]
        assert await hub.missed(1, hub.seq) == []
        assert await hub.missed(1, hub.seq + 10) is None  # another run's number
        assert await hub.missed(1, 3) is None  # older than remembered
    finally:
        await hub.stop()
    assert await asyncio.wait_for(everything.queue.get(), 1) == RESYNC  # told at the stop


async def test_a_board_that_cannot_keep_up_is_told_to_resync(db: Database) -> None:
    hub = Hub(db, _nobody_but)
    slow = hub.subscribe(1)
    for seq in range(QUEUE + 5):
        slow.put(Event(seq, 1, seq))
    assert slow.queue.qsize() < QUEUE
    items = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert RESYNC in items
