"""The incident card as a live message: what it must read now (the incident, the last timeline
entries, its resource requests, the phases of the countries involved, the at-risk sites it
lies near), in its chat's languages, with its buttons."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.db import Tx, UnitOfWork
from bot.core.directory import registered_chat_in
from bot.core.effects import Live
from bot.delivery.live import Shown
from bot.incidents import cards, media
from bot.incidents import service as incidents
from bot.render.card import render_card
from bot.render.keyboards import BoardLinks, card_keyboard
from bot.resources import requests
from bot.situation.surroundings import surroundings_in


class CardView:
    def __init__(self, *, timeline_entries: int, board: BoardLinks | None = None) -> None:
        self._timeline_entries = timeline_entries
        # the situation board's links ([board] enabled), for the card's Board button; set
        # again once the web server listens (bot.app)
        self.board = board

    async def read(self, tx: Tx, live: Live) -> Shown | None:
        ref, chat_id = live.subject, live.chat_id
        card = await cards.state(tx, ref, chat_id)
        incident = await incidents.incident_in(tx, ref)
        chat = await registered_chat_in(tx, chat_id)
        if card is None or incident is None or chat is None:
            return None
        html = render_card(
            incident,
            await incidents.timeline_in(tx, ref, self._timeline_entries),
            chat.languages,
            chat.timezone,
            await requests.requests_of(tx, ref),
            around=await surroundings_in(tx, incident),
            media=await media.counts_in(tx, ref),
        )
        return Shown(
            message_id=card["message_id"],
            version=card["version"],
            shown_version=card["shown_version"],
            html=html,
            # a private chat (a positive id) may carry the board's own web_app button
            keyboard=card_keyboard(incident, chat.languages, self.board, private=chat_id > 0),
            pin=True,
        )

    async def store(
        self, unit: UnitOfWork, live: Live, message_id: int, version: int, posted: bool
    ) -> None:
        await cards.shown(unit, live.subject, live.chat_id, message_id, version)
        if posted:
            # a reply to the card reaches the timeline
            await incidents.link_message(unit, live.chat_id, message_id, live.subject, "card")

    async def behind(self, tx: Tx) -> Sequence[Live]:
        return await cards.behind(tx)
