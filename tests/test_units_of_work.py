"""One unit of work per update: what handling one update does to the database, counted from
the inside. A timeline reply and a /log each take one transaction, the gate's read, the
claim, the note and the card's new version included; the card's edit comes after, on its
own. A refusal stores the claim and nothing else; effects are applied only once committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.db import Database
from bot.incidents import service as incidents
from tests.harness import Harness


class Transactions:
    """Every transaction begun, and the task that began it."""

    def __init__(self, db: Database) -> None:
        self.begun: list[tuple[asyncio.Task[Any] | None, str]] = []
        db.observer = lambda kind: self.begun.append((asyncio.current_task(), kind))

    def of(self, tasks: set[asyncio.Task[Any]]) -> list[str]:
        return [kind for task, kind in self.begun if task in tasks]

    def others(self, tasks: set[asyncio.Task[Any]]) -> list[str]:
        return [kind for task, kind in self.begun if task not in tasks]


async def _handling(h: Harness, act: Callable[[], Awaitable[Any]]) -> tuple[list[str], list[str]]:
    """The transactions the bot began while handling the updates `act` sends (in the tasks
    that process them), and those begun meanwhile by everything else (card edits, outbox)."""
    assert h.app is not None
    await h.settle()
    handlers: set[asyncio.Task[Any]] = set()
    original = h.app.process_update

    async def traced(update: object) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await original(update)

    h.app.process_update = traced  # type: ignore[method-assign]
    counted = Transactions(h.runtime.db)
    try:
        await act()
        await h.settle()
    finally:
        h.app.process_update = original  # type: ignore[method-assign]
        h.runtime.db.observer = None
    assert handlers, "no update was handled"
    return counted.of(handlers), counted.others(handlers)


async def test_a_timeline_reply_and_a_log_take_one_transaction_each(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de Tournai")
    card = h.card(h.ops)

    mine, meanwhile = await _handling(
        h, lambda: h.sim.send_text(h.responder, h.ops, "Nuage jaune vers l'est", reply_to=card)
    )
    assert mine == ["write"]
    # the card shows the reply: its edit read and stored on its own, after the commit
    assert "Nuage jaune vers l'est" in (h.card(h.ops).text or "")
    assert "read" in meanwhile and "write" in meanwhile

    mine, _ = await _handling(
        h, lambda: h.sim.send_text(h.commander, h.ops, "/log Périmètre 300 m")
    )
    assert mine == ["write"]
    assert "Périmètre 300 m" in (h.card(h.ops).text or "")
    answer = h.sim.last_bot_message(h.ops)
    assert answer is not None and "#1" in (answer.text or "")
    # a reply to that answer reaches the incident: the answer's message id was stored (with
    # a later unit of work, not a transaction of its own)
    mine, _ = await _handling(
        h, lambda: h.sim.send_text(h.responder, h.ops, "Vu, on s'éloigne", reply_to=answer)
    )
    assert mine == ["write"]
    texts = [e.text for e in await incidents.timeline(h.runtime.db, 1, last=10)]
    assert "Vu, on s'éloigne" in texts


async def test_a_refusal_stores_the_claim_and_nothing_else(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Incendie")
    before = await incidents.timeline(h.runtime.db, 1, last=10)
    # a responder may not change the severity: refused, in one transaction, nothing stored
    mine, _ = await _handling(h, lambda: h.sim.send_text(h.responder, h.ops, "/set gravité sévère"))
    assert mine == ["write"]
    assert h.last_text(h.ops).startswith("⛔")
    assert await incidents.timeline(h.runtime.db, 1, last=10) == before
    update_id = h.sim.world.updates.last_id
    assert await h.runtime.db.claimed(update_id)
