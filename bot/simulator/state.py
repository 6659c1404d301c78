"""The simulated Telegram world: users, chats, messages, files and the update queue.

Objects render themselves in the Bot API's JSON shapes (``to_dict``) so the server and the
driver produce exactly what Telegram would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

# Message kinds whose words are a caption.
CAPTIONED_KINDS = ("photo", "video", "voice", "audio", "document", "animation")

CHAT_TYPES = ("private", "group", "supergroup", "channel")
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


@dataclass
class SimUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


# Where Telegram puts each kind of file (the first part of getFile's file_path).
FILE_FOLDERS = {
    "photo": "photos",
    "video": "videos",
    "video_note": "video_notes",
    "voice": "voice",
    "audio": "music",
    "document": "documents",
    "animation": "animations",
    "sticker": "stickers",
}
# The Bot API's getFile refuses files above this size ("file is too big").
DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass(eq=False)
class SimFile:
    file_id: str
    file_unique_id: str
    data: bytes
    filename: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    kind: str = "document"
    duration: int | None = None
    size: int | None = None  # the size Telegram states, when larger than ``data`` (big files)
    performer: str | None = None
    title: str | None = None
    downloads: int = 0  # successful downloads of the bytes at base_file_url
    gone: bool = False  # expired on Telegram's side: getFile and downloads fail

    @property
    def file_size(self) -> int:
        return self.size if self.size is not None else len(self.data)

    @property
    def too_big(self) -> bool:
        return self.file_size > DOWNLOAD_LIMIT

    @property
    def file_path(self) -> str:
        folder = FILE_FOLDERS.get(self.kind, "documents")
        return f"{folder}/{self.file_unique_id}/{self.filename or 'file'}"

    def document_dict(self) -> JsonDict:
        data: JsonDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.filename:
            data["file_name"] = self.filename
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def size_dict(self) -> JsonDict:
        """One PhotoSize."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
            "file_size": self.file_size,
        }

    def photo_sizes(self) -> list[JsonDict]:
        return [self.size_dict()]

    def media_dict(self) -> JsonDict:
        """The Bot API object of this file's kind (Video, Voice, Audio, …; not photos)."""
        base: JsonDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.kind == "video_note":
            base["length"] = self.width
        elif self.kind in ("video", "animation", "sticker"):
            base["width"], base["height"] = self.width, self.height
        if self.kind in ("video", "video_note", "voice", "audio", "animation"):
            base["duration"] = self.duration or 0
        if self.kind == "sticker":
            base.update(type="regular", is_animated=False, is_video=False)
        if self.kind == "audio":
            if self.performer:
                base["performer"] = self.performer
            if self.title:
                base["title"] = self.title
        if self.filename and self.kind in ("video", "audio", "document", "animation"):
            base["file_name"] = self.filename
        if self.mime_type and self.kind not in ("video_note", "sticker"):
            base["mime_type"] = self.mime_type
        base["file_size"] = self.file_size
        return base


@dataclass
class MessageVersion:
    """A past state of an edited message."""

    html: str | None
    text: str | None
    entities: list[JsonDict]
    reply_markup: JsonDict | None
    edit_date: int | None


@dataclass(eq=False)
class SimMessage:
    chat: SimChat
    message_id: int
    sender: SimUser
    date: int
    from_bot: bool
    html: str | None = None  # the text as sent (raw HTML when parse_mode was HTML)
    text: str | None = None  # the plain text Telegram shows
    entities: list[JsonDict] = field(default_factory=list)
    reply_markup: JsonDict | None = None
    reply_to: SimMessage | None = None
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)
    caption: str | None = None
    caption_html: str | None = None
    caption_entities: list[JsonDict] = field(default_factory=list)
    document: SimFile | None = None
    photo: SimFile | None = None
    location: tuple[float, float] | None = None
    # what a user's media message carries: {"photo": [...]}, {"voice": {...}}, {"contact": …}
    content: JsonDict = field(default_factory=dict)
    files: list[SimFile] = field(default_factory=list)  # the files of ``content``
    media_group_id: str | None = None
    extra: JsonDict = field(default_factory=dict)  # service fields, e.g. new_chat_members
    silent: bool = False
    deleted: bool = False
    params: JsonDict = field(default_factory=dict)  # the request that created it (bot messages)

    @property
    def edits(self) -> int:
        return len(self.history)

    @property
    def has_caption_slot(self) -> bool:
        """A message whose words are a caption (media), not a text."""
        return self.text is None and (
            self.document is not None
            or self.photo is not None
            or any(k in self.content for k in CAPTIONED_KINDS)
        )

    @property
    def file(self) -> SimFile | None:
        """The message's file: a photo's largest size, a video, a voice note, a document…"""
        if self.files:
            return self.files[-1]
        return self.document or self.photo

    def remember_version(self, edit_date: int) -> None:
        """Keep the current wording in ``history`` before an edit made at ``edit_date``."""
        self.history.append(
            MessageVersion(
                self.html if self.text is not None else self.caption_html,
                self.text if self.text is not None else self.caption,
                list(self.entities if self.text is not None else self.caption_entities),
                self.reply_markup,
                self.edit_date,
            )
        )
        self.edit_date = edit_date

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """Inline keyboard buttons as (text, callback_data, url or web_app url), row by row."""
        if not self.reply_markup:
            return []
        found: list[tuple[str, str]] = []
        for row in self.reply_markup.get("inline_keyboard", []):
            for button in row:
                web_app = button.get("web_app")
                opens = web_app.get("url", "") if isinstance(web_app, dict) else ""
                value = button.get("callback_data", button.get("url", opens))
                found.append((str(button.get("text", "")), str(value)))
        return found

    @property
    def callback_data(self) -> list[str]:
        if not self.reply_markup:
            return []
        return [
            str(b["callback_data"])
            for row in self.reply_markup.get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]

    def to_dict(self, *, with_reply: bool = True) -> JsonDict:
        data: JsonDict = {
            "message_id": self.message_id,
            "from": self.sender.to_dict(),
            "chat": self.chat.to_dict(),
            "date": self.date,
        }
        if self.reply_to is not None and with_reply:
            # Telegram nests the replied-to message one level deep only.
            data["reply_to_message"] = self.reply_to.to_dict(with_reply=False)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.document is not None:
            data["document"] = self.document.document_dict()
        if self.photo is not None:
            data["photo"] = self.photo.photo_sizes()
        data.update(self.content)
        if self.media_group_id is not None:
            data["media_group_id"] = self.media_group_id
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.location is not None:
            data["location"] = {"latitude": self.location[0], "longitude": self.location[1]}
        data.update(self.extra)
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup  # only inline keyboards are echoed back
        return data

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else self.sender.first_name
        body = self.text if self.text is not None else self.caption
        if body is None:
            body = ",".join(sorted(self.extra) or sorted(self.content)) or (
                "location" if self.location else ""
            )
        return f"<SimMessage {self.chat.id}/{self.message_id} {who}: {body!r}>"


@dataclass(eq=False)
class SimChat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: SimUser | None = None  # the other party of a private chat
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    messages: dict[int, SimMessage] = field(default_factory=dict)
    pinned_ids: list[int] = field(default_factory=list)  # most recent pin last
    blocked: bool = False
    migrated_to: int | None = None
    migrated_from: int | None = None
    description: str | None = None
    _last_message_id: int = 0

    def next_message_id(self) -> int:
        self._last_message_id += 1
        return self._last_message_id

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    def to_dict(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "type": self.type}
        if self.is_private and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    @property
    def pinned(self) -> SimMessage | None:
        return self.messages[self.pinned_ids[-1]] if self.pinned_ids else None

    def status_of(self, user_id: int) -> str:
        if self.is_private:
            return "member" if self.user is not None and self.user.id == user_id else "left"
        return self.members.get(user_id, "left")


@dataclass
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int

    # Lets tests unpack ``text, show_alert = sim.callback_answers[cq_id]``.
    def __iter__(self) -> Any:
        return iter((self.text, self.show_alert))


@dataclass
class SimCall:
    """One Bot API request as the simulator saw it."""

    method: str
    params: JsonDict
    status: int
    time: float
    description: str | None = None
    result: Any = None
    files: list[str] = field(default_factory=list)
    client: str = ""  # who called, when its base_url names it (TelegramSimulator.base_url_for)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def arg(self, name: str, default: Any = None) -> Any:
        """A parameter decoded from its wire form: ``call.arg("chat_id") == -1001``."""
        value = self.params.get(name, default)
        if isinstance(value, str) and name not in _STRING_PARAMS:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


# Parameters that are strings on the wire as-is, so never JSON-decoded ("123" stays text).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "action",
        "language_code",
        "file_id",
        "inline_message_id",
        "title",
        "description",
    }
)


@dataclass
class QueuedUpdate:
    update_id: int
    payload: JsonDict
    delivered: bool = False
    # sent again with an id at or below one already queued (a redelivery): handed over once
    # even if the bot's offset is past it, as if its confirmation had been lost
    again: bool = False

    @property
    def kind(self) -> str:
        return next((k for k in self.payload if k != "update_id"), "")


# Telegram's default when allowed_updates was never set.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    """Pending updates with monotonically increasing ids, plus a wake-up signal for waiters."""

    def __init__(self) -> None:
        self.pending: list[QueuedUpdate] = []
        self.sent: dict[int, JsonDict] = {}  # every update ever queued, by id (redelivery)
        self.last_id = 0
        self.allowed_updates: list[str] | None = None
        self._changed = asyncio.Event()

    def put(self, payload: JsonDict) -> int:
        again = False
        if "update_id" in payload:
            update_id = int(payload["update_id"])
            again = update_id <= self.last_id
            self.last_id = max(self.last_id, update_id)
        else:
            self.last_id += 1
            update_id = self.last_id
        body = {"update_id": update_id, **{k: v for k, v in payload.items() if k != "update_id"}}
        self.sent[update_id] = body
        self.pending.append(QueuedUpdate(update_id, body, again=again))
        self.notify()
        return update_id

    def notify(self) -> None:
        # Wake every current waiter, then arm a fresh event for the next round.
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, seconds: float) -> None:
        """Return when something was queued or changed, or after ``seconds``."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the event being set, leaving the caller's task uncancellable.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()

    def allowed(self, update: QueuedUpdate) -> bool:
        if self.allowed_updates:
            return update.kind in self.allowed_updates
        return update.kind not in DEFAULT_EXCLUDED_UPDATES

    def confirm(self, offset: int) -> None:
        """getUpdates offset semantics: updates below ``offset`` are gone for good."""
        self.pending = [
            u for u in self.pending if u.update_id >= offset or (u.again and not u.delivered)
        ]

    def drop_filtered(self) -> None:
        # Telegram never delivers types the bot did not subscribe to.
        self.pending = [u for u in self.pending if self.allowed(u)]

    def clear(self) -> None:
        self.pending.clear()
        self.notify()

    @property
    def undelivered(self) -> list[QueuedUpdate]:
        return list(self.each_undelivered())

    def each_undelivered(self) -> Iterator[QueuedUpdate]:
        """The undelivered updates, oldest first, as they are needed (the webhook pusher stops
        after the first few of thousands)."""
        return (u for u in self.pending if not u.delivered and self.allowed(u))

    def take(self, update: QueuedUpdate) -> bool:
        """Remove ``update`` itself (not an equal one) from the pending ones; False if it is not
        there. Deliveries end nearly in order, so it is found near the front."""
        for index, queued in enumerate(self.pending):
            if queued is update:
                del self.pending[index]
                return True
        return False


# The first characters of Telegram's file_ids per kind (they encode the type).
_FILE_ID_PREFIXES = {
    "photo": "AgACAgQAAx",
    "video": "BAACAgQAAx",
    "video_note": "DQACAgQAAx",
    "voice": "AwACAgQAAx",
    "audio": "CQACAgQAAx",
    "document": "BQACAgIAAx",
    "animation": "CgACAgQAAx",
    "sticker": "CAACAgIAAx",
}


def file_ids(data: bytes, counter: int, kind: str = "document") -> tuple[str, str]:
    """Telegram-looking (file_id, file_unique_id), stable for the same content and counter."""
    digest = hashlib.sha256(data + counter.to_bytes(8, "big")).hexdigest()
    unique_prefix = "AQAD" if kind == "photo" else "AgAD"
    return f"{_FILE_ID_PREFIXES.get(kind, 'BQACAgIAAx')}{digest[:40]}", (
        f"{unique_prefix}{digest[40:52]}"
    )


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or a JPEG; a plausible default for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        found = _jpeg_size(data)
        if found is not None:
            return found
    return 320, 240


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The frame size of a JPEG's first SOFn segment."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        at += 2 + length
    return None


def unix_now(clock: Callable[[], float] = time.time) -> int:
    return int(clock())


@dataclass
class WebhookConfig:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class SimCallbackQuery:
    id: str
    user: SimUser
    message: SimMessage
    data: str
    answered: bool = False


class World:
    """Everything the simulated Telegram knows; shared by the server and the driver."""

    def __init__(self, token: str, bot: SimUser, clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.bot = bot
        self.clock = clock
        self.users: dict[int, SimUser] = {bot.id: bot}
        self.chats: dict[int, SimChat] = {}
        self.files: dict[str, SimFile] = {}
        self.updates = UpdateQueue()
        self.webhook = WebhookConfig()
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.callback_queries: dict[str, SimCallbackQuery] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.calls: list[SimCall] = []
        self.downloads: list[tuple[str, int]] = []  # (file_path, HTTP status) per file request
        self.logged_out = False
        self._file_counter = 0
        self._callback_counter = 0

    def now(self) -> int:
        return int(self.clock())

    def add_message(self, chat: SimChat, sender: SimUser, **fields: Any) -> SimMessage:
        """Append a message to ``chat`` with the chat's next message id."""
        message = SimMessage(
            chat=chat,
            message_id=chat.next_message_id(),
            sender=sender,
            date=self.now(),
            from_bot=sender.id == self.bot.id,
            **fields,
        )
        chat.messages[message.message_id] = message
        return message

    def store_file(
        self,
        data: bytes,
        filename: str | None,
        mime_type: str | None,
        *,
        photo: bool = False,
        kind: str | None = None,
        **attributes: Any,
    ) -> SimFile:
        """Keep a file Telegram knows; ``attributes`` are SimFile fields (width, duration, …)."""
        kind = kind or ("photo" if photo else "document")
        self._file_counter += 1
        file_id, unique_id = file_ids(data, self._file_counter, kind)
        if photo and "width" not in attributes:
            attributes["width"], attributes["height"] = image_size(data)
        stored = SimFile(file_id, unique_id, data, filename, mime_type, kind=kind, **attributes)
        self.files[file_id] = stored
        return stored

    def file_at(self, path: str) -> SimFile | None:
        return next((f for f in self.files.values() if f.file_path == path), None)

    def next_callback_id(self) -> str:
        self._callback_counter += 1
        # Telegram's ids are opaque decimal strings.
        return str(4_000_000_000_000_000 + self._callback_counter)
