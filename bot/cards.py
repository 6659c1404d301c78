"""The card publisher: keeps each incident's card current in its chat.

A change only bumps the card's `version` in the database (in the change's own transaction).
The publisher then edits the message until `shown_version` catches up. Edits are coalesced
(bot.coalesce): at most one per card every `min_interval` seconds, each rendering the state as
it is then, so a burst of changes ends with one correct card, never a stale one.
Cards left behind by a crash are brought up to date at start (`catch_up`).
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import incidents, requests, situation
from bot.coalesce import Coalescer
from bot.db import Database
from bot.directory import get_chat
from bot.render.card import render_card
from bot.render.keyboards import card_keyboard

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (incident ref, chat id)


class CardPublisher:
    def __init__(
        self, db: Database, bot: Bot, *, min_interval: float, timeline_entries: int
    ) -> None:
        self._db = db
        self._bot = bot
        self._timeline_entries = timeline_entries
        self._edits: Coalescer[Key] = Coalescer(
            self._refresh, min_interval=min_interval, name="card"
        )

    async def catch_up(self) -> None:
        """Publish every card whose last change is not shown yet (after a restart)."""
        async with self._db.read() as tx:
            rows = await tx.all(
                "SELECT incident_id, chat_id FROM cards WHERE shown_version < version"
            )
        for row in rows:
            self.touch(row["incident_id"], row["chat_id"])

    async def touch_incident(self, ref: int) -> None:
        """Schedule a refresh of every card of this incident."""
        async with self._db.read() as tx:
            rows = await tx.all("SELECT chat_id FROM cards WHERE incident_id = ?", (ref,))
        for row in rows:
            self.touch(ref, row["chat_id"])

    def touch(self, ref: int, chat_id: int) -> None:
        self._edits.touch((ref, chat_id))

    async def idle(self) -> None:
        await self._edits.idle()

    async def close(self) -> None:
        await self._edits.close()

    async def _refresh(self, key: Key) -> float | None:
        return await self._publish(*key)

    async def _publish(self, ref: int, chat_id: int) -> float | None:
        """Show the card's current state; return seconds to wait before retrying, if needed."""
        async with self._db.read() as tx:
            card = await tx.one(
                "SELECT message_id, version, shown_version FROM cards"
                " WHERE incident_id = ? AND chat_id = ?",
                (ref, chat_id),
            )
            incident = await incidents.incident_in(tx, ref)
            timeline = await incidents.timeline_in(tx, ref, self._timeline_entries)
            resource_requests = await requests.requests_of(tx, ref)
            around = await situation.surroundings_in(tx, incident) if incident else None
        chat = await get_chat(self._db, chat_id)
        if card is None or incident is None or chat is None:
            return None
        if card["shown_version"] >= card["version"]:
            return None
        version = card["version"]
        html = render_card(
            incident, timeline, chat.languages, chat.timezone, resource_requests, around=around
        )
        keyboard = card_keyboard(incident, chat.languages)
        message_id: int | None = card["message_id"]
        try:
            if message_id is not None:
                try:
                    await self._bot.edit_message_text(
                        html,
                        chat_id=chat_id,
                        message_id=message_id,
                        parse_mode=ParseMode.HTML,
                        reply_markup=keyboard,
                    )
                except BadRequest as exc:
                    reason = exc.message.lower()
                    if "not modified" in reason:
                        pass  # already shows this state
                    elif "not found" in reason or "can't be edited" in reason:
                        log.warning("event=card_gone incident=%s chat=%s", ref, chat_id)
                        message_id = None
                    else:
                        raise
            if message_id is None:
                message = await self._bot.send_message(
                    chat_id, html, parse_mode=ParseMode.HTML, reply_markup=keyboard
                )
                message_id = message.message_id
                # remember the card at once: a reply to it must reach the timeline
                await incidents.remember_message(self._db, chat_id, message_id, ref)
                try:
                    await self._bot.pin_chat_message(chat_id, message_id, disable_notification=True)
                except TelegramError as exc:
                    # without the right to pin, the card still works unpinned
                    log.warning(
                        "event=card_pin_failed incident=%s chat=%s error=%s", ref, chat_id, exc
                    )
        except RetryAfter as exc:
            retry = exc.retry_after
            return retry if isinstance(retry, (int, float)) else retry.total_seconds()
        except Forbidden as exc:
            log.warning("event=card_forbidden incident=%s chat=%s error=%s", ref, chat_id, exc)
            return None
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE cards SET message_id = ?, shown_version = MAX(shown_version, ?)"
                " WHERE incident_id = ? AND chat_id = ?",
                (message_id, version, ref, chat_id),
            )
        return None
