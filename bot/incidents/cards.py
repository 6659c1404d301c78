"""Where each incident's card lives, and how far behind it is: the `cards` table.

A change to an incident bumps the `version` of its cards in the change's own unit of work (and
the card is touched for the live-message publisher once it commits); the publisher shows the
card and records the `shown_version` it reached. A card left behind by a crash is found by
`behind` at the next start.
"""

from __future__ import annotations

from bot.core.db import Row, Tx, UnitOfWork
from bot.core.effects import Live, LiveKind


async def create(unit: UnitOfWork, ref: int, chat_id: int) -> None:
    await unit.execute(
        "INSERT INTO cards (incident_id, chat_id, version, shown_version) VALUES (?, ?, 1, 0)",
        (ref, chat_id),
    )
    unit.effects.touch(Live(LiveKind.CARD, ref, chat_id))
    unit.effects.incidents.add(ref)


async def bump(unit: UnitOfWork, ref: int) -> None:
    """Every card of the incident shows the change."""
    rows = await unit.all(
        "UPDATE cards SET version = version + 1 WHERE incident_id = ? RETURNING chat_id", (ref,)
    )
    for row in rows:
        unit.effects.touch(Live(LiveKind.CARD, ref, row["chat_id"]))
    unit.effects.incidents.add(ref)


async def state(tx: Tx, ref: int, chat_id: int) -> Row | None:
    """message_id, version and shown_version of one card."""
    return await tx.one(
        "SELECT message_id, version, shown_version FROM cards"
        " WHERE incident_id = ? AND chat_id = ?",
        (ref, chat_id),
    )


async def shown(unit: UnitOfWork, ref: int, chat_id: int, message_id: int, version: int) -> None:
    await unit.execute(
        "UPDATE cards SET message_id = ?,"
        " shown_version = CASE WHEN shown_version > ? THEN shown_version ELSE ? END"
        " WHERE incident_id = ? AND chat_id = ?",
        (message_id, version, version, ref, chat_id),
    )


async def behind(tx: Tx) -> list[Live]:
    """Cards whose last change is not shown yet (after a restart)."""
    rows = await tx.all("SELECT incident_id, chat_id FROM cards WHERE shown_version < version")
    return [Live(LiveKind.CARD, row["incident_id"], row["chat_id"]) for row in rows]


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its cards are posted there afresh (message ids do not carry
    over)."""
    await unit.execute(
        "UPDATE cards SET chat_id = ?, message_id = NULL, version = version + 1 WHERE chat_id = ?",
        (new_id, old_id),
    )
    unit.effects.catch_up = True
