"""The request card publisher: each resource request has one message in the chat that asked,
posted when the request is made and edited in place as agencies answer (coalesced, like the
incident card: a change bumps `requests.version`; the publisher edits until `shown_version`
catches up, also after a restart)."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.core.db import Database
from bot.core.directory import get_chat
from bot.delivery.coalesce import Coalescer
from bot.incidents import service as incidents
from bot.render.requests import render_request_card
from bot.resources import requests

log = logging.getLogger(__name__)


class RequestCardPublisher:
    def __init__(self, db: Database, bot: Bot, *, min_interval: float) -> None:
        self._db = db
        self._bot = bot
        self._edits: Coalescer[int] = Coalescer(
            self._publish, min_interval=min_interval, name="request_card"
        )

    async def catch_up(self) -> None:
        for request_id in await requests.pending_cards(self._db):
            self.touch(request_id)

    def touch(self, request_id: int) -> None:
        self._edits.touch(request_id)

    async def idle(self) -> None:
        await self._edits.idle()

    async def close(self) -> None:
        await self._edits.close()

    async def _publish(self, request_id: int) -> float | None:
        state = await requests.card_state(self._db, request_id)
        if state is None:
            return None
        request, message_id, version, shown = state
        if shown >= version:
            return None
        chat = await get_chat(self._db, request.chat_id)
        if chat is None:
            return None
        html = render_request_card(request, chat.languages, chat.timezone)
        try:
            if message_id is not None:
                try:
                    await self._bot.edit_message_text(
                        html, chat_id=chat.id, message_id=message_id, parse_mode=ParseMode.HTML
                    )
                except BadRequest as exc:
                    reason = exc.message.lower()
                    if "not modified" in reason:
                        pass
                    elif "not found" in reason or "can't be edited" in reason:
                        message_id = None
                    else:
                        raise
            if message_id is None:
                message = await self._bot.send_message(chat.id, html, parse_mode=ParseMode.HTML)
                message_id = message.message_id
                # a reply to the request card reaches the incident (a location, a place name)
                await incidents.remember_message(
                    self._db, chat.id, message_id, request.incident_ref
                )
        except RetryAfter as exc:
            retry = exc.retry_after
            return retry if isinstance(retry, (int, float)) else retry.total_seconds()
        except Forbidden as exc:
            log.warning("event=request_card_forbidden request=%s error=%s", request_id, exc)
            return None
        await requests.set_card_message(self._db, request_id, message_id, version)
        return None
