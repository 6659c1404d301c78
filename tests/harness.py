"""End-to-end harness: the real PTB Application, built as in production, talking HTTP to the
local Telegram stand-in; the test plays users and reads what Telegram received."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.app import WEB_KEY, PassApp, build_application, set_webhook, start_leading, stop_leading
from bot.board.server import BoardServer
from bot.core.config import Mode, Settings, parse_settings
from bot.runtime import Runtime
from bot.simulator import Media, SimChat, SimMessage, SimUser, TelegramSimulator
from handlers.context import RUNTIME_KEY
from tests.conftest import (
    ADMIN,
    AGENCY_FLUVIA,
    AGENCY_SDIS59,
    AGENCY_WAPI,
    COMMANDER,
    COMMANDER_FR,
    DUTY_FLUVIA,
    DUTY_SDIS59,
    DUTY_WAPI,
    LIAISON,
    LIAISON_BE,
    LIAISON_FR,
    OPS_BILINGUAL,
    OPS_EN,
    OPS_FR,
    RESPONDER,
    SPOKESPERSON,
    settings_data,
)

UNREGISTERED = -100999


class Harness:
    def __init__(self, sim: TelegramSimulator, db_path: Path, **overrides: Any) -> None:
        self.sim = sim
        self.db_path = db_path
        self.overrides = overrides
        self.app: PassApp | None = None
        self.commander = sim.add_user(COMMANDER, "Marc", username="mdelattre", language_code="fr")
        self.commander_fr = sim.add_user(
            COMMANDER_FR, "Julie", username="jlefebvre", language_code="fr"
        )
        self.liaison = sim.add_user(LIAISON, "Sophie", username="svandamme", language_code="fr")
        self.spokesperson = sim.add_user(
            SPOKESPERSON, "Pieter", username="pclaeys", language_code="nl"
        )
        self.admin = sim.add_user(ADMIN, "Admin", username="admin", language_code="en")
        self.responder = sim.add_user(
            RESPONDER, "Jan", last_name="Peeters", username=None, language_code="nl"
        )
        self.duty_wapi = sim.add_user(DUTY_WAPI, "Luc", username="lvanacker", language_code="fr")
        self.duty_sdis59 = sim.add_user(
            DUTY_SDIS59, "Karim", username="kbenali", language_code="fr"
        )
        self.duty_fluvia = sim.add_user(
            DUTY_FLUVIA, "Els", username="evermeulen", language_code="nl"
        )
        everyone = [
            self.commander,
            self.commander_fr,
            self.liaison,
            self.spokesperson,
            self.admin,
            self.responder,
            self.duty_wapi,
            self.duty_sdis59,
            self.duty_fluvia,
        ]
        self.ops = sim.add_chat(
            OPS_BILINGUAL,
            "supergroup",
            title="Tournai ops",
            members=everyone,
            bot_status="administrator",
        )
        self.ops_fr = sim.add_chat(
            OPS_FR, "supergroup", title="Lille ops", members=everyone, bot_status="administrator"
        )
        self.ops_en = sim.add_chat(
            OPS_EN,
            "supergroup",
            title="Training room",
            members=everyone,
            bot_status="administrator",
        )
        self.liaison_fr = sim.add_chat(LIAISON_FR, "supergroup", title="CODIS 59", members=everyone)
        self.liaison_be = sim.add_chat(
            LIAISON_BE, "supergroup", title="CC Hainaut", members=everyone
        )
        self.agency_wapi = sim.add_chat(
            AGENCY_WAPI, "supergroup", title="ZS WAPI", members=everyone
        )
        self.agency_sdis59 = sim.add_chat(
            AGENCY_SDIS59, "supergroup", title="SDIS 59 – CTA-CODIS", members=everyone
        )
        self.agency_fluvia = sim.add_chat(
            AGENCY_FLUVIA, "supergroup", title="HVZ Fluvia", members=everyone
        )
        self.stranger_group = sim.add_chat(
            UNREGISTERED, "group", title="Somebody's group", members=everyone
        )

    @property
    def data(self) -> dict[str, Any]:
        """The configuration as read from a file, before validation."""
        data = settings_data(self.db_path, **self.overrides)
        # no base_file_url: files come from where base_url is (derived, as in production)
        data["telegram"] = {**data["telegram"], "base_url": self.sim.base_url}
        # the board's web server on a free port (tests run side by side)
        data["board"] = {"port": 0, **data.get("board", {})}
        return data

    @property
    def settings(self) -> Settings:
        return parse_settings(self.data, env={})

    @property
    def runtime(self) -> Runtime:
        assert self.app is not None
        runtime: Runtime = self.app.bot_data[RUNTIME_KEY]
        return runtime

    @property
    def web(self) -> BoardServer:
        """The one web server (the board; the webhook in webhook mode)."""
        assert self.app is not None
        server: BoardServer = self.app.bot_data[WEB_KEY]
        return server

    @property
    def board_url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}/board/"

    async def start(self, lead: bool = True) -> None:
        """Start as `python -m bot` does (minus the signal handling that a test cannot have).
        Polling mode: `lead`, wait until this instance polls (another may hold the lease)."""
        settings = self.settings
        self.app = build_application(settings)
        await self.app.initialize()
        assert self.app.post_init is not None
        await self.app.post_init(self.app)
        await self.app.start()
        assert self.app.updater is not None
        if settings.telegram.mode is Mode.WEBHOOK:
            # the one web server (started by post_init) takes the updates; Telegram is told
            await set_webhook(self.app)
        else:
            # polling: once this instance holds the polling lease
            start_leading(self.app)
            leader = self.runtime.leader
            assert leader is not None
            if lead:
                async with asyncio.timeout(10):
                    await leader.leading.wait()

    async def stop(self) -> None:
        if self.app is None:
            return
        # stop polling first (and give the lease up), as `python -m bot` does
        await stop_leading(self.app)
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
            assert self.app.post_stop is not None
            await self.app.post_stop(self.app)
        await self.app.shutdown()
        assert self.app.post_shutdown is not None
        await self.app.post_shutdown(self.app)
        self.app = None

    async def settle(self) -> None:
        """Until every queued update is confirmed, handled, and its card edits are made."""
        assert self.app is not None
        updates = self.sim.world.updates
        if self.sim.webhook_url:
            # a 2xx from the webhook means PTB has queued the update
            await self.sim.wait_delivered(timeout=10)
        else:
            await self.sim.wait_for(
                lambda: not updates.pending,
                timeout=10,
                message="the bot did not confirm every update",
            )
        await self.app.update_queue.join()
        # what the updates caused: messages to other chats, card, tally and request card edits,
        # and the writes that wait for the next unit of work (the message ids of answers)
        for _ in range(3):
            await self.runtime.outbox.drained()
            await self.runtime.live.idle()
        await self.runtime.db.flush()

    # --- playing users ---------------------------------------------------------------------

    async def say(
        self, user: SimUser, chat: SimChat, text: str, reply_to: SimMessage | int | None = None
    ) -> SimMessage:
        message = await self.sim.send_text(user, chat, text, reply_to=reply_to)
        await self.settle()
        return message

    async def press(
        self, user: SimUser, chat: SimChat, message: SimMessage, data: str, forged: bool = False
    ) -> str:
        query = await self.sim.press(user, chat, message.message_id, data, forged=forged)
        await self.settle()
        return query

    # Media, albums, contacts, venues and edits: each waits like ``say`` (settle) afterwards.
    # ``fields`` are bot.simulator.Media's: data, filename, mime_type, width, height,
    # duration, size (a stated size; over 20 MB getFile answers "file is too big"),
    # performer, title; ``premium`` allows 4096-character captions.

    async def send_media(
        self,
        kind: str,
        user: SimUser,
        chat: SimChat,
        *,
        reply_to: SimMessage | int | None = None,
        caption: str | None = None,
        premium: bool = False,
        **fields: Any,
    ) -> SimMessage:
        """``kind``: photo, video, video_note, voice, audio, document, animation, sticker."""
        message = await self.sim.send_media(
            user, chat, Media(kind, **fields), caption=caption, reply_to=reply_to, premium=premium
        )
        await self.settle()
        return message

    async def send_photo(
        self,
        user: SimUser,
        chat: SimChat,
        *,
        reply_to: SimMessage | int | None = None,
        caption: str | None = None,
        data: bytes | None = None,
        **fields: Any,
    ) -> SimMessage:
        """A photo (default: a generated 800x600 PNG); ``message.file`` is its largest size."""
        return await self.send_media(
            "photo", user, chat, reply_to=reply_to, caption=caption, data=data, **fields
        )

    async def send_video(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("video", user, chat, **options)

    async def send_video_note(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("video_note", user, chat, **options)

    async def send_voice(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("voice", user, chat, **options)

    async def send_audio(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("audio", user, chat, **options)

    async def send_document(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("document", user, chat, **options)

    async def send_animation(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("animation", user, chat, **options)

    async def send_sticker(self, user: SimUser, chat: SimChat, **options: Any) -> SimMessage:
        return await self.send_media("sticker", user, chat, **options)

    async def send_album(
        self,
        user: SimUser,
        chat: SimChat,
        items: list[Media | str],
        *,
        caption: str | None = None,
        reply_to: SimMessage | int | None = None,
    ) -> list[SimMessage]:
        """2 to 10 items (``"photo"``, ``"video"`` or ``Media(...)``), one update each, sharing
        a media_group_id; ``caption`` on the first."""
        messages = await self.sim.send_album(user, chat, items, caption=caption, reply_to=reply_to)
        await self.settle()
        return messages

    async def send_contact(
        self,
        user: SimUser,
        chat: SimChat,
        phone_number: str,
        first_name: str,
        *,
        reply_to: SimMessage | int | None = None,
        **options: Any,
    ) -> SimMessage:
        message = await self.sim.send_contact(
            user, chat, phone_number, first_name, reply_to=reply_to, **options
        )
        await self.settle()
        return message

    async def send_venue(
        self,
        user: SimUser,
        chat: SimChat,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        reply_to: SimMessage | int | None = None,
    ) -> SimMessage:
        message = await self.sim.send_venue(
            user, chat, latitude, longitude, title, address, reply_to=reply_to
        )
        await self.settle()
        return message

    async def send_location(
        self,
        user: SimUser,
        chat: SimChat,
        latitude: float,
        longitude: float,
        *,
        reply_to: SimMessage | int | None = None,
    ) -> SimMessage:
        message = await self.sim.send_location(user, chat, latitude, longitude, reply_to=reply_to)
        await self.settle()
        return message

    async def edit(
        self, user: SimUser, chat: SimChat, message: SimMessage | int, text: str
    ) -> SimMessage:
        """The author edits their message's text (or a media message's caption):
        an ``edited_message`` update; the earlier wording stays in ``message.history``."""
        edited = await self.sim.edit_message(user, chat, message, text)
        await self.settle()
        return edited

    async def redeliver(self, *update_ids: int) -> None:
        """Telegram sends these updates again (same ids and bodies); e.g.
        ``uid = h.sim.last_update_id`` right after a send or an edit."""
        for update_id in update_ids:
            self.sim.redeliver(update_id)
        await self.settle()

    def card(self, chat: SimChat) -> SimMessage:
        pinned = self.sim.pinned(chat)
        assert pinned is not None, self.sim.dump()
        return pinned

    def bot_texts(self, chat: SimChat) -> list[str]:
        return [m.text or "" for m in self.sim.bot_messages(chat)]

    def last_text(self, chat: SimChat) -> str:
        last = self.sim.last_bot_message(chat)
        assert last is not None
        return last.text or ""
