"""What happens to a chat across every domain: a group upgraded to a supergroup (its new id
followed everywhere), a chat that blocked or removed the bot (held back, liaisons told), a chat
that took the bot back (what was held goes out)."""

from __future__ import annotations

import logging

from bot.alerts import service as alerts
from bot.core import directory
from bot.core.db import UnitOfWork
from bot.delivery import outbox
from bot.incidents import cards
from bot.incidents import service as incidents
from bot.render.notices import render_unreachable
from bot.reports import evaluations
from bot.resources import requests
from bot.statements import service as statements

log = logging.getLogger(__name__)


async def follow(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup with a new id: follow it everywhere, lose nothing.

    Idempotent: Telegram tells it twice (a service message in each chat) and a refused call
    tells it again. Message ids do not carry over to the supergroup, so its cards, request
    cards and tallies are posted there again, and replies to the old group's messages are
    forgotten."""
    if old_id == new_id:
        return
    log.info("event=chat_migrated old=%d new=%d", old_id, new_id)
    await directory.follow_chat(unit, old_id, new_id)
    await incidents.follow_chat(unit, old_id, new_id)
    await cards.follow_chat(unit, old_id, new_id)
    await requests.follow_chat(unit, old_id, new_id)
    await alerts.follow_chat(unit, old_id, new_id)
    await statements.follow_chat(unit, old_id, new_id)
    await evaluations.follow_chat(unit, old_id, new_id)
    await outbox.follow_chat(unit, old_id, new_id)
    unit.effects.catch_up = True


async def unreachable(unit: UnitOfWork, chat_id: int, error: str) -> None:
    """The bot was blocked or removed (a 403 to a message or an edit): stop sending there and
    tell the liaisons, once."""
    await outbox.hold_chat(unit, chat_id, error)
    if not await directory.mark_unreachable(unit, chat_id):
        return
    name = await directory.chat_name_in(unit, chat_id)
    for chat in await directory.liaison_chats(unit):
        if chat.id == chat_id:
            continue
        await outbox.enqueue(
            unit,
            chat_id=chat.id,
            html=render_unreachable(name, chat.languages),
            purpose="notice",
            key=f"unreachable:{chat_id}:{chat.id}:{error[:40]}",
        )


async def reinstated(unit: UnitOfWork, chat_id: int) -> None:
    """The bot is back in a chat that had blocked or removed it: what was held goes out, and
    its live messages catch up."""
    if await directory.reinstate(unit, chat_id):
        await outbox.resume_chat(unit, chat_id)
        unit.effects.catch_up = True
