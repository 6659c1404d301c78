"""TelegramSimulator: the server plus a driver API with which tests play Telegram users."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .faults import Fault, FaultInjector, RateLimiter
from .html import auto_entities, utf16_len
from .media import Media, build, check_album, check_caption
from .methods import BotApi, canonical_scope
from .server import ApiServer, Dispatcher
from .state import (
    CHAT_TYPES,
    MEMBER_STATUSES,
    CallbackAnswer,
    JsonDict,
    SimCall,
    SimCallbackQuery,
    SimChat,
    SimFile,
    SimMessage,
    SimUser,
    World,
)
from .webhook import WebhookPusher

ChatRef = SimChat | int
UserRef = SimUser | int
MessageRef = SimMessage | int


class TelegramSimulator:
    """A local Telegram Bot API for end-to-end tests.

    Point PTB at it with ``ApplicationBuilder().base_url(sim.base_url)
    .base_file_url(sim.base_file_url)``; drive users with ``send_text``, ``press`` and friends;
    inspect what the bot did with ``messages``, ``message``, ``calls`` and ``wait_for``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "passerelle_test_bot",
        *,
        enforce_limits: bool = False,
        bot_first_name: str = "Passerelle",
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        webhook_retry_delays: Iterable[float] = (0.05, 0.1, 0.2, 0.4),
    ) -> None:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456
        self.bot = SimUser(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.token = token
        self.world = World(token, self.bot, clock)
        self.faults = FaultInjector(seed)
        self.limiter = RateLimiter(time.monotonic) if enforce_limits else None
        self.api = BotApi(self.world, self.faults, self.limiter)
        self.server = ApiServer(self.world, Dispatcher(self.world, self.api, self.faults))
        self.webhook = WebhookPusher(self.world, tuple(webhook_retry_delays))
        self.port = 0
        self._album_counter = 0
        self._media_counter = 0

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        self.port = self.server.start(port)
        self.api.closing = False
        self.webhook.start()

    async def stop(self) -> None:
        self.api.closing = True
        self.world.updates.notify()  # release pending long polls
        await self.webhook.stop()
        await self.server.stop()

    async def __aenter__(self) -> TelegramSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def base_url_for(self, client: str) -> str:
        """base_url for one of several processes of the bot: its calls are recorded with
        ``SimCall.client == client`` (letters, digits, ``_``, ``.``, ``-``)."""
        return f"http://127.0.0.1:{self.port}/{client}/bot"

    def base_file_url_for(self, client: str) -> str:
        return f"http://127.0.0.1:{self.port}/{client}/file/bot"

    # ---- recorded state ----------------------------------------------------------------

    @property
    def calls(self) -> list[SimCall]:
        return self.world.calls

    def reset_calls(self) -> None:
        self.world.calls.clear()

    def calls_to(self, method: str) -> list[SimCall]:
        return [c for c in self.world.calls if c.method.lower() == method.lower()]

    def count_status(self, status: int, method: str | None = None) -> int:
        return sum(
            1
            for c in self.world.calls
            if c.status == status and (method is None or c.method.lower() == method.lower())
        )

    @property
    def callback_answers(self) -> dict[str, CallbackAnswer]:
        return self.world.callback_answers

    @property
    def commands(self) -> dict[tuple[str, str], list[JsonDict]]:
        return self.world.commands

    def commands_for(
        self, scope: JsonDict | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        return self.world.commands.get((canonical_scope(scope), language_code), [])

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        return self.world.chat_actions

    @property
    def webhook_url(self) -> str:
        return self.world.webhook.url

    @property
    def pending_updates(self) -> list[JsonDict]:
        return [u.payload for u in self.world.updates.pending]

    # ---- world building ----------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
        is_bot: bool = False,
    ) -> SimUser:
        user = SimUser(user_id, first_name, last_name, username, language_code, is_bot)
        self.world.users[user_id] = user
        return user

    def add_chat(
        self,
        chat_id: int,
        type: str = "group",
        *,
        title: str | None = None,
        members: Iterable[UserRef] = (),
        admins: Iterable[UserRef] = (),
        creator: UserRef | None = None,
        bot_status: str = "member",
        username: str | None = None,
        description: str | None = None,
    ) -> SimChat:
        """A group, supergroup or channel the bot is in (as ``bot_status``)."""
        if type not in CHAT_TYPES or type == "private":
            raise ValueError(f"use private_chat() for private chats; bad type {type!r}")
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative in the Bot API")
        chat = SimChat(chat_id, type, title=title or f"Chat {chat_id}", username=username)
        chat.description = description
        for user in members:
            chat.members[self._user(user).id] = "member"
        for user in admins:
            chat.members[self._user(user).id] = "administrator"
        if creator is not None:
            chat.members[self._user(creator).id] = "creator"
        self._set_status(chat, self.bot, bot_status)
        self.world.chats[chat_id] = chat
        return chat

    def private_chat(self, user: UserRef) -> SimChat:
        """The user's private chat with the bot (id == user id), created on first use."""
        sim_user = self._user(user)
        chat = self.world.chats.get(sim_user.id)
        if chat is None:
            chat = SimChat(sim_user.id, "private", user=sim_user)
            self.world.chats[sim_user.id] = chat
        return chat

    def set_status(self, chat: ChatRef, user: UserRef, status: str) -> None:
        """Change a member's status silently (no update); see add_member for the visible way."""
        self._set_status(self.chat(chat), self._user(user), status)

    def block(self, chat: ChatRef) -> None:
        """The user blocks the bot (private) or the bot is kicked (group): sends get 403."""
        sim_chat = self.chat(chat)
        old = sim_chat.status_of(self.bot.id) if not sim_chat.is_private else "member"
        sim_chat.blocked = True
        if not sim_chat.is_private:
            sim_chat.members[self.bot.id] = "kicked"
        # Telegram tells the bot with a my_chat_member update, in both cases.
        actor = (
            sim_chat.user if sim_chat.user is not None else self._actor(sim_chat, self.bot, None)
        )
        self._queue_member_update(sim_chat, self.bot, actor, old, "kicked")

    def unblock(self, chat: ChatRef) -> None:
        sim_chat = self.chat(chat)
        sim_chat.blocked = False
        if not sim_chat.is_private and sim_chat.members.get(self.bot.id) == "kicked":
            sim_chat.members[self.bot.id] = "member"

    def migrate_to_supergroup(self, chat: ChatRef, new_id: int | None = None) -> int:
        """Upgrade a group to a supergroup with a new -100… id, queueing Telegram's updates."""
        old = self.chat(chat)
        if old.type != "group":
            raise ValueError("only basic groups can be migrated")
        if new_id is None:
            new_id = -(10**12) - abs(old.id)
        new = SimChat(new_id, "supergroup", title=old.title, members=dict(old.members))
        new.migrated_from = old.id
        new.pinned_ids = []
        self.world.chats[new_id] = new
        creator = next(
            (self.world.users[u] for u, s in old.members.items() if s == "creator"), None
        )
        actor = creator or self.bot
        # Telegram sends both service messages; the old chat's one comes first.
        out = self.world.add_message(old, actor, extra={"migrate_to_chat_id": new_id})
        self._queue_message(out)
        into = self.world.add_message(new, actor, extra={"migrate_from_chat_id": old.id})
        self._queue_message(into)
        old.migrated_to = new_id
        return new_id

    # ---- playing users -----------------------------------------------------------------

    async def send_text(
        self,
        user: UserRef,
        chat: ChatRef,
        text: str,
        *,
        reply_to: MessageRef | None = None,
        entities: list[JsonDict] | None = None,
    ) -> SimMessage:
        """The user writes ``text`` in ``chat``; queues a ``message`` update for the bot."""
        sim_user, sim_chat = self._user(user), self._writable(chat)
        self._check_member(sim_chat, sim_user)
        msg = self.world.add_message(
            sim_chat,
            sim_user,
            html=text,
            text=text,
            entities=entities if entities is not None else auto_entities(text),
            reply_to=self._reply(sim_chat, reply_to),
        )
        self._queue_message(msg)
        await asyncio.sleep(0)
        return msg

    async def send_location(
        self,
        user: UserRef,
        chat: ChatRef,
        latitude: float,
        longitude: float,
        *,
        reply_to: MessageRef | None = None,
    ) -> SimMessage:
        sim_user, sim_chat = self._user(user), self._writable(chat)
        self._check_member(sim_chat, sim_user)
        msg = self.world.add_message(
            sim_chat,
            sim_user,
            location=(latitude, longitude),
            reply_to=self._reply(sim_chat, reply_to),
        )
        self._queue_message(msg)
        await asyncio.sleep(0)
        return msg

    async def send_document(
        self,
        user: UserRef,
        chat: ChatRef,
        data: bytes | None = None,
        filename: str | None = None,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
        reply_to: MessageRef | None = None,
        size: int | None = None,
        premium: bool = False,
    ) -> SimMessage:
        """The user sends a file as a document (default: a 4 KB "document.pdf")."""
        return await self.send_media(
            user,
            chat,
            Media("document", data, filename=filename, mime_type=mime_type, size=size),
            caption=caption,
            reply_to=reply_to,
            premium=premium,
        )

    async def send_photo(
        self,
        user: UserRef,
        chat: ChatRef,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        width: int | None = None,
        height: int | None = None,
        premium: bool = False,
    ) -> SimMessage:
        """The user sends a photo: ``data`` (a PNG/JPEG) or a generated 800×600 PNG.

        The message carries several PhotoSizes, smallest first, like Telegram's; the last is
        the original (``data``), each a file of its own (``msg.files``, ``msg.file``).
        """
        media = Media("photo", data, width=width, height=height)
        return await self.send_media(
            user, chat, media, caption=caption, reply_to=reply_to, premium=premium
        )

    async def send_video(self, user: UserRef, chat: ChatRef, **options: Any) -> SimMessage:
        """A video; options as send_file (duration, width, height, size, data, caption, …)."""
        return await self.send_file(user, chat, "video", **options)

    async def send_video_note(self, user: UserRef, chat: ChatRef, **options: Any) -> SimMessage:
        """A round video note (no caption); ``width`` is its length."""
        return await self.send_file(user, chat, "video_note", **options)

    async def send_voice(self, user: UserRef, chat: ChatRef, **options: Any) -> SimMessage:
        """A voice note (audio/ogg, ``duration`` seconds)."""
        return await self.send_file(user, chat, "voice", **options)

    async def send_audio(self, user: UserRef, chat: ChatRef, **options: Any) -> SimMessage:
        """An audio file (performer, title, duration)."""
        return await self.send_file(user, chat, "audio", **options)

    async def send_animation(self, user: UserRef, chat: ChatRef, **options: Any) -> SimMessage:
        """A GIF: Telegram sends ``animation`` and, beside it, ``document``."""
        return await self.send_file(user, chat, "animation", **options)

    async def send_sticker(self, user: UserRef, chat: ChatRef, **options: Any) -> SimMessage:
        return await self.send_file(user, chat, "sticker", **options)

    async def send_contact(
        self,
        user: UserRef,
        chat: ChatRef,
        phone_number: str,
        first_name: str,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
        reply_to: MessageRef | None = None,
    ) -> SimMessage:
        media = Media(
            "contact",
            phone_number=phone_number,
            first_name=first_name,
            last_name=last_name,
            user_id=user_id,
        )
        return await self.send_media(user, chat, media, reply_to=reply_to)

    async def send_venue(
        self,
        user: UserRef,
        chat: ChatRef,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        reply_to: MessageRef | None = None,
    ) -> SimMessage:
        """A venue; Telegram also sends its ``location`` on the message."""
        media = Media("venue", latitude=latitude, longitude=longitude, title=title, address=address)
        return await self.send_media(user, chat, media, reply_to=reply_to)

    async def send_file(
        self,
        user: UserRef,
        chat: ChatRef,
        kind: str,
        *,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        premium: bool = False,
        **fields: Any,
    ) -> SimMessage:
        """A message of ``kind`` with Media ``fields`` (data, duration, size, filename, …)."""
        return await self.send_media(
            user, chat, Media(kind, **fields), caption=caption, reply_to=reply_to, premium=premium
        )

    async def send_media(
        self,
        user: UserRef,
        chat: ChatRef,
        media: Media,
        *,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        premium: bool = False,
        media_group_id: str | None = None,
    ) -> SimMessage:
        """The user sends ``media``; queues one ``message`` update.

        ``caption`` (else ``media.caption``) gets the entities Telegram detects (a caption
        starting with /log has a bot_command entity). A caption Telegram refuses (over 1024
        UTF-16 units, 4096 with ``premium``; any on a sticker or video note) is a ValueError.
        """
        sim_user, sim_chat = self._user(user), self._writable(chat)
        self._check_member(sim_chat, sim_user)
        text = check_caption(
            media.kind, caption if caption is not None else media.caption, premium=premium
        )
        target = self._reply(sim_chat, reply_to)
        msg = self._media_message(sim_user, sim_chat, media, text, target, media_group_id)
        self._queue_message(msg)
        await asyncio.sleep(0)
        return msg

    async def send_album(
        self,
        user: UserRef,
        chat: ChatRef,
        items: Iterable[Media | str],
        *,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        premium: bool = False,
    ) -> list[SimMessage]:
        """An album: 2 to 10 photos/videos (or documents, or audio) sharing a media_group_id.

        Telegram delivers each item as its own ``message`` update, in order; ``caption`` goes
        on the first item (as when one caption is typed for the album); an item's own
        ``Media.caption`` is kept. All items reply to ``reply_to`` when given.
        """
        sim_user, sim_chat = self._user(user), self._writable(chat)
        self._check_member(sim_chat, sim_user)
        medias = [Media(i) if isinstance(i, str) else i for i in items]
        check_album(medias)
        texts = [
            check_caption(
                m.kind, caption if (i == 0 and caption is not None) else m.caption, premium=premium
            )
            for i, m in enumerate(medias)
        ]
        target = self._reply(sim_chat, reply_to)
        self._album_counter += 1
        group_id = str(13_000_000_000_000_000 + self._album_counter)
        sent = [
            self._media_message(sim_user, sim_chat, m, t, target, group_id)
            for m, t in zip(medias, texts, strict=True)
        ]
        for msg in sent:
            self._queue_message(msg)
        await asyncio.sleep(0)
        return sent

    async def edit_message(
        self,
        user: UserRef,
        chat: ChatRef,
        message: MessageRef,
        text: str,
        *,
        premium: bool = False,
    ) -> SimMessage:
        """The author edits their message: its text, or a media message's caption.

        Queues an ``edited_message`` update (the whole message, new wording, ``edit_date``);
        the earlier wording goes to ``msg.history``. Only the author can edit (AssertionError
        otherwise), and a Telegram client sends no edit that changes nothing.
        """
        sim_user, sim_chat = self._user(user), self._writable(chat)
        msg = self.message(sim_chat, message)
        if msg.deleted or msg.from_bot or msg.sender.id != sim_user.id:
            raise AssertionError(f"{sim_user.first_name} cannot edit {msg!r}")
        if msg.text is not None:
            if not text.strip():
                raise ValueError("Telegram refuses an empty text")
            if utf16_len(text) > 4096:
                raise ValueError("Telegram refuses a text over 4096 characters")
            if text == msg.text:
                raise ValueError("the edit changes nothing")
            msg.remember_version(self.world.now())
            msg.html, msg.text, msg.entities = text, text, auto_entities(text)
        elif msg.has_caption_slot:
            kind = next((k for k in msg.content if k != "document"), "document")
            caption = check_caption(kind, text, premium=premium)
            if caption == msg.caption:
                raise ValueError("the edit changes nothing")
            msg.remember_version(self.world.now())
            msg.caption = msg.caption_html = caption
            msg.caption_entities = auto_entities(caption) if caption else []
        else:
            raise AssertionError(f"{msg!r} has neither text nor caption to edit")
        kind = "edited_channel_post" if sim_chat.type == "channel" else "edited_message"
        self.world.updates.put({kind: msg.to_dict()})
        await asyncio.sleep(0)
        return msg

    async def press(
        self,
        user: UserRef,
        chat: ChatRef,
        message: MessageRef,
        data: str,
        *,
        forged: bool = False,
    ) -> str:
        """The user presses the inline button with ``data``; returns the callback query id.

        The message must be a live bot message carrying that button, unless ``forged`` (a
        client sending arbitrary callback data, which Telegram does let through).
        """
        sim_user, sim_chat = self._user(user), self.chat(chat)
        msg = self.message(sim_chat, message)
        if msg.deleted or not msg.from_bot:
            raise AssertionError(f"{msg!r} is deleted or not a bot message")
        if not forged and data not in msg.callback_data:
            raise AssertionError(f"no button with data {data!r} on {msg!r}: {msg.buttons}")
        query_id = self.world.next_callback_id()
        self.world.callback_queries[query_id] = SimCallbackQuery(query_id, sim_user, msg, data)
        self.world.updates.put(
            {
                "callback_query": {
                    "id": query_id,
                    "from": sim_user.to_dict(),
                    "message": msg.to_dict(),
                    "chat_instance": str(abs(hash((sim_chat.id, self.bot.id))) % 10**18),
                    "data": data,
                }
            }
        )
        await asyncio.sleep(0)
        return query_id

    async def add_member(
        self, chat: ChatRef, user: UserRef, *, by: UserRef | None = None, status: str = "member"
    ) -> SimMessage:
        """``user`` joins (or is added ``by`` someone): new_chat_members + member updates.

        Adding ``sim.bot`` produces the ``my_chat_member`` update Telegram sends the bot.
        """
        sim_chat, sim_user = self.chat(chat), self._user(user)
        actor = self._actor(sim_chat, sim_user, by)
        old = sim_chat.status_of(sim_user.id)
        self._set_status(sim_chat, sim_user, status)
        self._queue_member_update(sim_chat, sim_user, actor, old, status)
        msg = self.world.add_message(
            sim_chat, actor, extra={"new_chat_members": [sim_user.to_dict()]}
        )
        if sim_user.id == self.bot.id:
            sim_chat.blocked = False
        if msg.sender.id != self.bot.id:
            self._queue_message(msg)
        await asyncio.sleep(0)
        return msg

    async def remove_member(
        self, chat: ChatRef, user: UserRef, *, by: UserRef | None = None, kicked: bool = False
    ) -> SimMessage:
        """``user`` leaves (or is removed ``by`` someone): left_chat_member + member updates."""
        sim_chat, sim_user = self.chat(chat), self._user(user)
        actor = self._actor(sim_chat, sim_user, by)
        old = sim_chat.status_of(sim_user.id)
        new_status = "kicked" if kicked else "left"
        msg = self.world.add_message(
            sim_chat, actor, extra={"left_chat_member": sim_user.to_dict()}
        )
        self._set_status(sim_chat, sim_user, new_status)
        self._queue_member_update(sim_chat, sim_user, actor, old, new_status)
        if sim_user.id != self.bot.id:
            self._queue_message(msg)  # a bot that is gone no longer hears the chat
        await asyncio.sleep(0)
        return msg

    @property
    def last_update_id(self) -> int:
        """The id of the update queued last (a message, an edit, an album's last item…)."""
        return self.world.updates.last_id

    def redeliver(self, update_id: int) -> None:
        """Queue an update again, same id and body: Telegram redelivering an update whose
        confirmation was lost (an album: redeliver each of its ids)."""
        payload = self.world.updates.sent.get(update_id)
        if payload is None:
            raise KeyError(f"no update {update_id} was ever queued")
        self.world.updates.put(dict(payload))

    async def send_other(
        self,
        user: UserRef,
        chat: ChatRef,
        content: JsonDict,
        *,
        reply_to: MessageRef | None = None,
    ) -> SimMessage:
        """A message carrying ``content`` as given: kinds the simulator does not model (a
        dice {"dice": {"emoji": "🎲", "value": 3}}, a poll, a story…), or ``{}``, a message with
        neither text nor file."""
        sim_user, sim_chat = self._user(user), self._writable(chat)
        self._check_member(sim_chat, sim_user)
        msg = self.world.add_message(
            sim_chat, sim_user, content=dict(content), reply_to=self._reply(sim_chat, reply_to)
        )
        self._queue_message(msg)
        await asyncio.sleep(0)
        return msg

    def post_update(self, update: JsonDict) -> int:
        """Queue any raw update (``update_id`` is assigned if missing); returns its id."""
        return self.world.updates.put(update)

    async def post_to_webhook(self, update: JsonDict, secret: str | None = None) -> int | None:
        """POST ``update`` straight to the bot's webhook with ``secret`` (default: the set one).

        Bypasses the queue; for testing how the bot treats wrong secrets or malformed bodies.
        """
        if not self.world.webhook.url:
            raise AssertionError("no webhook is set")
        if "update_id" not in update:
            self.world.updates.last_id += 1
            update = {"update_id": self.world.updates.last_id, **update}
        return await self.webhook.post(
            update, secret if secret is not None else self.world.webhook.secret_token
        )

    # ---- files ---------------------------------------------------------------------------

    def file(self, file_id: str) -> SimFile:
        found = self.world.files.get(file_id)
        if found is None:
            raise KeyError(f"no file {file_id} in the simulator")
        return found

    def downloads(self, file: SimFile | str | None = None) -> int:
        """Successful downloads of ``file`` (a SimFile or file_id), or of every file."""
        if file is None:
            return sum(f.downloads for f in self.world.files.values())
        return (self.file(file) if isinstance(file, str) else file).downloads

    def fail_download(
        self,
        status: int | None = 500,
        *,
        file: SimFile | str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
    ) -> Fault:
        """The next ``times`` downloads (of ``file``, else of any file) fail with ``status``
        (5xx: Telegram trouble; None: only ``delay`` seconds late, then served)."""
        fault = self.faults.fail("download", status, times=times, delay=delay)
        if file is not None:
            fault.file_id = file if isinstance(file, str) else file.file_id
        return fault

    def expire_file(self, file: SimFile | str) -> None:
        """The file is gone on Telegram's side: getFile fails (400) and downloads answer 404."""
        (self.file(file) if isinstance(file, str) else file).gone = True

    # ---- inspection --------------------------------------------------------------------

    def chat(self, chat: ChatRef) -> SimChat:
        chat_id = chat.id if isinstance(chat, SimChat) else chat
        found = self.world.chats.get(chat_id)
        if found is None:
            raise KeyError(f"no chat {chat_id} in the simulator")
        return found

    def user(self, user_id: int) -> SimUser:
        return self.world.users[user_id]

    def messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[SimMessage]:
        """All messages of the chat in order, bot's and users', service messages included."""
        return [m for m in self.chat(chat).messages.values() if include_deleted or not m.deleted]

    def bot_messages(self, chat: ChatRef, *, include_service: bool = False) -> list[SimMessage]:
        return [m for m in self.messages(chat) if m.from_bot and (include_service or not m.extra)]

    def last_bot_message(self, chat: ChatRef) -> SimMessage | None:
        found = self.bot_messages(chat)
        return found[-1] if found else None

    def message(self, chat: ChatRef, message: MessageRef) -> SimMessage:
        message_id = message.message_id if isinstance(message, SimMessage) else message
        found = self.chat(chat).messages.get(message_id)
        if found is None:
            raise KeyError(f"no message {message_id} in chat {self.chat(chat).id}")
        return found

    def pinned(self, chat: ChatRef) -> SimMessage | None:
        return self.chat(chat).pinned

    async def wait_for(
        self,
        predicate: Callable[[], bool | Awaitable[bool]],
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, part of the driver API
        *,
        interval: float = 0.01,
        message: str = "",
    ) -> None:
        """Poll ``predicate`` until it is true; on timeout fail with a dump of recent activity."""
        deadline = time.monotonic() + timeout
        while True:
            outcome = predicate()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(self._dump(f"condition not met within {timeout}s", message))
            await asyncio.sleep(interval)

    async def wait_delivered(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until every queued update has been handed to the bot (getUpdates or webhook 2xx)."""
        await self.wait_for(
            lambda: not self.world.updates.undelivered,
            timeout,
            message=f"undelivered updates: {[u.payload for u in self.world.updates.undelivered]}",
        )

    async def wait_for_bot_message(
        self,
        chat: ChatRef,
        *,
        after: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SimMessage:
        """The first bot message in ``chat`` with an id above ``after``, once it exists."""

        def found() -> SimMessage | None:
            return next((m for m in self.bot_messages(chat) if m.message_id > after), None)

        await self.wait_for(lambda: found() is not None, timeout)
        result = found()
        assert result is not None
        return result

    def dump(self) -> str:
        return self._dump("simulator state", "")

    # ---- internals ---------------------------------------------------------------------

    def _dump(self, headline: str, message: str) -> str:
        lines = [headline + (f": {message}" if message else "")]
        recent = sorted(
            (m for c in self.world.chats.values() for m in c.messages.values()),
            key=lambda m: (m.date, m.chat.id, m.message_id),
        )[-15:]
        lines.append("recent messages:")
        lines += [f"  {m!r}" for m in recent] or ["  (none)"]
        lines.append("recent API calls:")
        for call in self.world.calls[-15:]:
            detail = f" {call.description}" if call.description else ""
            lines.append(f"  {call.method} -> {call.status}{detail}")
        pending = self.world.updates.pending
        lines.append(f"pending updates: {len(pending)}")
        return "\n".join(lines)

    def _actor(self, chat: SimChat, user: SimUser, by: UserRef | None) -> SimUser:
        """Who performs a membership change: ``by``, else the user, else (for the bot) an admin."""
        if by is not None:
            return self._user(by)
        if user.id != self.bot.id:
            return user
        for wanted in ("creator", "administrator", "member"):
            for uid, status in chat.members.items():
                if status == wanted and uid != self.bot.id and uid in self.world.users:
                    return self.world.users[uid]
        return user

    def _user(self, user: UserRef) -> SimUser:
        if isinstance(user, SimUser):
            return user
        found = self.world.users.get(user)
        if found is None:
            raise KeyError(f"no user {user} in the simulator")
        return found

    def _writable(self, chat: ChatRef) -> SimChat:
        sim_chat = self.chat(chat)
        if sim_chat.migrated_to is not None:
            raise AssertionError(
                f"chat {sim_chat.id} was migrated to {sim_chat.migrated_to}; users write there"
            )
        return sim_chat

    def _check_member(self, chat: SimChat, user: SimUser) -> None:
        if chat.is_private:
            if chat.user is None or chat.user.id != user.id:
                raise AssertionError(f"{user.first_name} cannot write in {chat.id}'s private chat")
        elif chat.status_of(user.id) in ("left", "kicked"):
            raise AssertionError(f"{user.first_name} is not a member of chat {chat.id}")

    def _media_message(
        self,
        user: SimUser,
        chat: SimChat,
        media: Media,
        caption: str | None,
        reply_to: SimMessage | None,
        media_group_id: str | None,
    ) -> SimMessage:
        self._media_counter += 1
        built = build(self.world, media, f"{self.token}/{self._media_counter}")
        return self.world.add_message(
            chat,
            user,
            caption=caption,
            caption_html=caption,
            caption_entities=auto_entities(caption) if caption else [],
            content=built.content,
            files=built.files,
            location=built.location,
            media_group_id=media_group_id,
            reply_to=reply_to,
        )

    def _reply(self, chat: SimChat, reply_to: MessageRef | None) -> SimMessage | None:
        return None if reply_to is None else self.message(chat, reply_to)

    def _set_status(self, chat: SimChat, user: SimUser, status: str) -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        chat.members[user.id] = status

    def _queue_message(self, msg: SimMessage) -> None:
        kind = "channel_post" if msg.chat.type == "channel" else "message"
        self.world.updates.put({kind: msg.to_dict()})

    def _queue_member_update(
        self, chat: SimChat, user: SimUser, actor: SimUser, old: str, new: str
    ) -> None:
        kind = "my_chat_member" if user.id == self.bot.id else "chat_member"
        self.world.updates.put(
            {
                kind: {
                    "chat": chat.to_dict(),
                    "from": actor.to_dict(),
                    "date": self.world.now(),
                    "old_chat_member": self.api.member_dict(chat, user, old),
                    "new_chat_member": self.api.member_dict(chat, user, new),
                }
            }
        )
