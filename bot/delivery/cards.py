"""The card publisher: keeps each incident's card current in its chat.

A change only bumps the card's `version` in the database (in the change's own transaction).
The publisher then edits the message until `shown_version` catches up. Edits are coalesced
(bot.coalesce): at most one per card every `min_interval` seconds, each rendering the state as
it is then, so a burst of changes ends with one correct card, never a stale one.
Cards left behind by a crash are brought up to date at start (`catch_up`).

Telegram's refusals: a 429 waits its `retry_after`, a 5xx or a time-out is retried with
backoff, a card that is gone is posted again and pinned, a group upgraded to a supergroup is
followed to its new id (the card is posted there), a chat that blocked or removed the bot is
reported through `on_unreachable`. A crash between posting a card and storing its message id
posts it once more at the next start: at most one extra card per crash.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.core.db import Database, Row
from bot.core.directory import get_chat, migrate_chat
from bot.delivery.coalesce import Coalescer
from bot.incidents import service as incidents
from bot.render.card import render_card
from bot.render.keyboards import card_keyboard
from bot.resources import requests
from bot.situation import surroundings as situation

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (incident ref, chat id)
# The bot was blocked or removed: (chat id, Telegram's words).
UnreachableCallback = Callable[[int, str], Awaitable[None]]
MAX_BACKOFF = 60.0


class CardPublisher:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        min_interval: float,
        timeline_entries: int,
        on_unreachable: UnreachableCallback | None = None,
    ) -> None:
        self._db = db
        self._bot = bot
        self._on_unreachable = on_unreachable
        self._failures: dict[Key, int] = {}
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
        try:
            retry = await self._publish(*key)
        except ChatMigrated as exc:
            await self._migrated(key[1], exc.new_chat_id)
            retry = None
        except RetryAfter as exc:
            after = exc.retry_after
            return after if isinstance(after, (int, float)) else after.total_seconds()
        except Forbidden as exc:
            log.warning("event=card_forbidden incident=%s chat=%s error=%s", *key, exc)
            if self._on_unreachable is not None:
                await self._on_unreachable(key[1], exc.message)
            retry = None
        except BadRequest as exc:
            # nothing a retry would change (the next change of the incident tries again)
            log.error("event=card_refused incident=%s chat=%s error=%s", *key, exc)
            retry = None
        except NetworkError as exc:  # 5xx, time-outs, connection trouble: soon again
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            log.warning("event=card_retry incident=%s chat=%s error=%s", *key, exc)
            return min(2.0 ** (failures - 1), MAX_BACKOFF)
        self._failures.pop(key, None)
        return retry

    async def _migrated(self, old_id: int, new_id: int) -> None:
        """The group became a supergroup: follow it, and post its cards there."""
        log.warning("event=chat_migrated old=%s new=%s", old_id, new_id)
        async with self._db.transaction() as tx:
            await migrate_chat(tx, old_id, new_id)
        await self.catch_up()

    async def render(
        self, ref: int, chat_id: int
    ) -> tuple[Row, str, InlineKeyboardMarkup | None] | None:
        """The card as it must read now: (its row, HTML, keyboard); None if there is none."""
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
        html = render_card(
            incident, timeline, chat.languages, chat.timezone, resource_requests, around=around
        )
        return card, html, card_keyboard(incident, chat.languages)

    async def _publish(self, ref: int, chat_id: int) -> float | None:
        """Show the card's current state; return seconds to wait before retrying, if needed."""
        rendered = await self.render(ref, chat_id)
        if rendered is None:
            return None
        card, html, keyboard = rendered
        if card["shown_version"] >= card["version"]:
            return None
        version = card["version"]
        message_id: int | None = card["message_id"]
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
                log.warning("event=card_pin_failed incident=%s chat=%s error=%s", ref, chat_id, exc)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE cards SET message_id = ?, shown_version = MAX(shown_version, ?)"
                " WHERE incident_id = ? AND chat_id = ?",
                (message_id, version, ref, chat_id),
            )
        return None
