"""The liaison's tally of an alert as a live message: in the chat where the alert was typed
(a group, or the liaison's private chat), kept current as chats receive and acknowledge it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.alerts import service as alerts
from bot.core.db import Tx, UnitOfWork
from bot.core.directory import person_in, registered_chat_in
from bot.core.effects import Live
from bot.delivery.live import Shown
from bot.incidents import service as incidents
from bot.render.alerts import render_tally


class TallyView:
    def __init__(self, *, default_language: str, timezone: str) -> None:
        self._default_language = default_language
        self._timezone = timezone

    async def read(self, tx: Tx, live: Live) -> Shown | None:
        found = await alerts.tally_state(tx, live.subject)
        if found is None:
            return None
        tally, row = found
        chat = await registered_chat_in(tx, live.chat_id)
        if chat is not None:
            languages, timezone = chat.languages, chat.timezone
        else:
            # typed in a private chat: the liaison's own language
            person = await person_in(tx, live.chat_id)
            language = person.reads(self._default_language) if person else self._default_language
            languages, timezone = (language,), self._timezone
        return Shown(
            message_id=row["tally_message_id"],
            version=row["tally_version"],
            shown_version=row["tally_shown"],
            html=render_tally(tally, languages, timezone),
        )

    async def store(
        self, unit: UnitOfWork, live: Live, message_id: int, version: int, posted: bool
    ) -> None:
        await alerts.tally_shown(unit, live.subject, message_id, version)
        if posted:
            tally = await alerts.tally_in(unit, live.subject)
            if tally is not None and tally.alert.incident is not None:
                # a reply to the tally reaches the incident's timeline
                await incidents.link_message(
                    unit, live.chat_id, message_id, tally.alert.incident.ref, "tally"
                )

    async def behind(self, tx: Tx) -> Sequence[Live]:
        return await alerts.tallies_behind(tx)
