"""A resource request's card as a live message: one message in the chat that asked, posted
when the request is made and kept current as agencies answer."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.db import Tx, UnitOfWork
from bot.core.directory import registered_chat_in
from bot.core.effects import Live
from bot.delivery.live import Shown
from bot.incidents import service as incidents
from bot.render.requests import render_request_card
from bot.resources import requests


class RequestCardView:
    async def read(self, tx: Tx, live: Live) -> Shown | None:
        found = await requests.card_state(tx, live.subject)
        chat = await registered_chat_in(tx, live.chat_id)
        if found is None or chat is None:
            return None
        request, card = found
        return Shown(
            message_id=card["card_message_id"],
            version=card["version"],
            shown_version=card["shown_version"],
            html=render_request_card(request, chat.languages, chat.timezone),
        )

    async def store(
        self, unit: UnitOfWork, live: Live, message_id: int, version: int, posted: bool
    ) -> None:
        await requests.card_shown(unit, live.subject, message_id, version)
        if posted:
            # a reply to the request card reaches the incident (a location, a place name)
            request = await requests.request_in(unit, live.subject)
            assert request is not None
            await incidents.link_message(
                unit, live.chat_id, message_id, request.incident_ref, "request", request.id
            )

    async def behind(self, tx: Tx) -> Sequence[Live]:
        return await requests.cards_behind(tx)
