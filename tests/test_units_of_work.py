"""One unit of work per update: what handling one update does to the database, counted from
the inside. A timeline reply and a /log each take one transaction, the gate's read, the
claim, the note and the card's new version included; the card's edit comes after, on its
own. A reply's unit runs seven statements, none of them a write that changes nothing or a read
of what it already read. A refusal stores the claim and nothing else; effects are applied only
once committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core import directory
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


class Statements:
    """The statements of each unit of work begun while it is installed (after its BEGIN: what
    the unit does itself), the first words of each."""

    def __init__(self, db: Database) -> None:
        self.units: list[list[str]] = []
        self._db = db
        self._begin = db.begin

        async def begin(*, exclusive: bool = True) -> Any:
            unit = await self._begin(exclusive=exclusive)
            seen: list[str] = []
            self.units.append(seen)
            for name in ("execute", "executemany", "one", "all"):
                setattr(unit, name, self._counted(getattr(unit, name), seen))
            return unit

        db.begin = begin  # type: ignore[method-assign]

    @staticmethod
    def _counted(
        method: Callable[..., Awaitable[Any]], seen: list[str]
    ) -> Callable[..., Awaitable[Any]]:
        async def run(sql: str, *args: Any) -> Any:
            seen.append(" ".join(sql.split()[:3]))
            return await method(sql, *args)

        return run

    def of_updates(self) -> list[list[str]]:
        """The units that handled an update (they begin with its claim)."""
        return [u for u in self.units if u and u[0] == "INSERT INTO processed_updates"]

    def remove(self) -> None:
        self._db.begin = self._begin  # type: ignore[method-assign]


async def test_a_reply_runs_seven_statements_and_writes_a_known_author_once(
    harness: Harness,
) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de Tournai")
    card = h.card(h.ops)
    # the responder's first words: their row may need their Telegram name and language
    await h.sim.send_text(h.responder, h.ops, "Sur place", reply_to=card)
    await h.settle()
    counted = Statements(h.runtime.db)
    try:
        await h.sim.send_text(h.responder, h.ops, "Nuage jaune vers l'est", reply_to=card)
        await h.settle()
    finally:
        counted.remove()
    assert counted.of_updates() == [
        [
            "INSERT INTO processed_updates",  # the claim
            "SELECT p.id AS",  # who acts, in which chat: one statement
            "SELECT incident_id, purpose,",  # which incident the replied-to card is
            "SELECT i.*, c.name",  # the incident, read once
            "INSERT INTO timeline",
            "UPDATE incidents SET",
            "UPDATE cards SET",
        ]
    ], counted.units
    assert "Nuage jaune vers l'est" in (h.card(h.ops).text or "")
    # what would change the row is still written, in the same unit as a lookup that read it
    counted = Statements(h.runtime.db)
    try:
        async with h.runtime.db.unit() as unit:
            known, _ = await directory.gate_lookup(unit, person_id=h.responder.id, chat_id=None)
            assert known is not None and known.username is None
            await directory.ensure_person(unit, known.id, known.name, None, None)  # as stored
            await directory.ensure_person(unit, known.id, known.name, "jpeeters_pit", None)
            await directory.ensure_person(unit, known.id, known.name, "jpeeters_pit", None)
    finally:
        counted.remove()
    assert counted.units == [["SELECT p.id AS", "INSERT INTO people", "INSERT INTO people"]]
    person = await directory.get_person(h.runtime.db, h.responder.id)
    assert person is not None and person.username == "jpeeters_pit"


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
