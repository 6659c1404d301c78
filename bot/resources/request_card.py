"""A resource request's card as a live message: one message in the chat that asked, posted
when the request is made and kept current as agencies answer."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.db import Tx, UnitOfWork
from bot.core.directory import registered_chat_in
from bot.core.effects import Live
from bot.delivery.live import Shown
from bot.incidents import service as incidents
from bot.render.keyboards import offer_markup
from bot.render.requests import render_offer, render_request_card
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


class OfferMessageView:
    """An offer in an agency chat, edited once it closes (the request filled or cancelled,
    the offer timed out, the unit released or recalled): the chat's languages, the buttons
    that still apply (none once it closed). It is never posted from here: the outbox posts
    it (and its delivery hook asks for the edit if the offer closed meanwhile)."""

    async def read(self, tx: Tx, live: Live) -> Shown | None:
        found = await requests.offer_message(tx, live.subject, live.chat_id)
        chat = await registered_chat_in(tx, live.chat_id)
        offer = await requests.offer_in(tx, live.subject)
        if found is None or chat is None or offer is None:
            return None
        row, version = found
        shown, request, incident = offer
        return Shown(
            message_id=row["message_id"],
            version=version,
            shown_version=row["shown_version"],
            html=render_offer(shown, request, incident, chat.languages, chat.timezone),
            keyboard=offer_markup(shown, chat.languages),
        )

    async def store(
        self, unit: UnitOfWork, live: Live, message_id: int, version: int, posted: bool
    ) -> None:
        await requests.offer_message_shown(unit, live.subject, live.chat_id, message_id, version)

    async def behind(self, tx: Tx) -> Sequence[Live]:
        return await requests.offer_messages_behind(tx)
