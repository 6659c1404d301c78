"""The liaison's tally of an alert: one message in the chat where the alert was typed,
edited in place (coalesced) as chats receive and acknowledge it."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.alerts import service as alerts
from bot.core.db import Database
from bot.core.directory import get_chat, get_person
from bot.delivery.coalesce import Coalescer
from bot.render.alerts import render_tally

log = logging.getLogger(__name__)


class TallyPublisher:
    def __init__(
        self, db: Database, bot: Bot, *, min_interval: float, default_language: str, timezone: str
    ) -> None:
        self._db = db
        self._bot = bot
        self._default_language = default_language
        self._timezone = timezone
        self._edits: Coalescer[int] = Coalescer(
            self._refresh, min_interval=min_interval, name="tally"
        )

    def touch(self, alert_id: int) -> None:
        self._edits.touch(alert_id)

    async def idle(self) -> None:
        await self._edits.idle()

    async def close(self) -> None:
        await self._edits.close()

    async def languages_of(self, chat_id: int) -> tuple[tuple[str, ...], str]:
        chat = await get_chat(self._db, chat_id)
        if chat is not None:
            return chat.languages, chat.timezone
        # typed in a private chat: the liaison's own language
        person = await get_person(self._db, chat_id)
        language = person.reads(self._default_language) if person else self._default_language
        return (language,), self._timezone

    async def _refresh(self, alert_id: int) -> float | None:
        tally = await alerts.tally(self._db, alert_id)
        if tally is None or tally.alert.tally_message_id is None:
            return None
        languages, timezone = await self.languages_of(tally.alert.origin_chat_id)
        try:
            await self._bot.edit_message_text(
                render_tally(tally, languages, timezone),
                chat_id=tally.alert.origin_chat_id,
                message_id=tally.alert.tally_message_id,
                parse_mode=ParseMode.HTML,
            )
        except RetryAfter as exc:
            retry = exc.retry_after
            return retry if isinstance(retry, (int, float)) else retry.total_seconds()
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.warning("event=tally_edit_failed alert=%s error=%s", alert_id, exc)
        except TelegramError as exc:
            log.warning("event=tally_edit_failed alert=%s error=%s", alert_id, exc)
        return None
