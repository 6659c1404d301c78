"""Bot API methods: validation like Telegram's, effects on the World, Telegram JSON results."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request
from .faults import FaultInjector, RateLimiter
from .html import HtmlParseError, parse_html, utf16_len
from .state import (
    CallbackAnswer,
    JsonDict,
    SimChat,
    SimFile,
    SimMessage,
    SimUser,
    World,
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
POLL_CONFLICT = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_SCOPE_TYPES = {
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
}


@dataclass
class UploadedFile:
    """A multipart file part."""

    filename: str | None
    body: bytes
    content_type: str | None


class Params:
    """Request parameters, whatever the encoding.

    Form bodies carry strings, with non-string values JSON-encoded (PTB's convention, also
    Telegram's); JSON bodies carry native values. The typed getters accept both.
    """

    def __init__(self, raw: JsonDict, files: dict[str, UploadedFile] | None = None) -> None:
        self.raw = raw
        self.files = files or {}

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value in (None, ""):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {name} JSON object") from None


Handler = Callable[["BotApi", Params], Any]
METHODS: dict[str, tuple[str, Handler]] = {}  # lower-case name -> (canonical name, handler)


def api(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        METHODS[name.lower()] = (name, fn)
        return fn

    return register


def canonical_scope(scope: Any) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True, separators=(",", ":"))


class BotApi:
    """Implements each Bot API method against a World."""

    def __init__(
        self, world: World, faults: FaultInjector, limiter: RateLimiter | None = None
    ) -> None:
        self.world = world
        self.faults = faults
        self.limiter = limiter
        self.closing = False
        self._poll_generation = 0

    # ---- shared validation -------------------------------------------------------------

    def chat(self, p: Params, name: str = "chat_id") -> SimChat:
        raw = p.raw.get(name)
        if raw in (None, ""):
            raise bad_request("chat_id is empty")
        chat: SimChat | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self.world.chats.values() if c.username == raw[1:]), None)
        else:
            try:
                chat = self.world.chats.get(int(raw))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def writable_chat(self, p: Params) -> SimChat:
        """A chat the bot may post in, or the 403 Telegram gives."""
        chat = self.chat(p)
        if chat.is_private:
            if chat.blocked:
                raise ApiError(403, "bot was blocked by the user")
            return chat
        kind = "channel" if chat.type == "channel" else chat.type
        status = chat.members.get(self.world.bot.id, "left")
        if chat.blocked or status == "kicked":
            raise ApiError(403, f"bot was kicked from the {kind} chat")
        if status == "left":
            raise ApiError(403, f"bot is not a member of the {kind} chat")
        return chat

    def bot_is_admin(self, chat: SimChat) -> bool:
        return chat.status_of(self.world.bot.id) in ("creator", "administrator")

    def render(
        self, p: Params, field: str, entities_field: str, limit: int, *, caption: bool
    ) -> tuple[str | None, str | None, list[JsonDict]]:
        """(raw, plain text, entities) of a text or caption parameter."""
        raw = p.string(field)
        if raw is None:
            if caption:
                return None, None, []
            raise bad_request("message text is empty")
        parse_mode = (p.string("parse_mode") or "").lower()
        entities: list[JsonDict] = []
        if parse_mode == "html":
            try:
                plain, entities = parse_html(raw)
            except HtmlParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif parse_mode in ("markdown", "markdownv2"):
            raise bad_request("can't parse entities: the simulator only implements parse_mode HTML")
        elif parse_mode:
            raise bad_request("unsupported parse_mode")
        else:
            plain = raw
            given = p.json(entities_field)
            if isinstance(given, list):
                entities = given
        if not plain.strip():
            if caption:
                return None, None, []
            raise bad_request("message text is empty")
        if utf16_len(plain) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return raw, plain, entities

    def reply_markup(self, p: Params, chat: SimChat | None = None) -> JsonDict | None:
        """The inline keyboard checked as Telegram checks it (`chat`: where it goes; a
        `web_app` button is refused outside a private chat, as Telegram does)."""
        markup = p.json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup  # reply keyboards, ForceReply, ReplyKeyboardRemove: stored as-is
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard button: field must be an Array")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request("can't parse inline keyboard button: Text must be a String")
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                    if not 1 <= size <= MAX_CALLBACK_DATA:
                        raise bad_request("BUTTON_DATA_INVALID")
                elif "url" in button:
                    if not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                        raise bad_request("BUTTON_URL_INVALID")
                elif "web_app" in button:
                    if chat is not None and not chat.is_private:
                        raise bad_request("BUTTON_TYPE_INVALID")
                    web_app = button["web_app"]
                    # "an HTTPS URL of a Web App" (the Bot API's WebAppInfo)
                    if not isinstance(web_app, dict) or not re.match(
                        r"^https://\S+$", str(web_app.get("url", ""))
                    ):
                        raise bad_request("BUTTON_URL_INVALID")
                elif not any(k in button for k in _INLINE_ACTIONS):
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
        return markup

    def reply_target(self, p: Params, chat: SimChat) -> SimMessage | None:
        params = p.json("reply_parameters")
        if isinstance(params, dict) and "message_id" in params:
            message_id = int(params["message_id"])
            allow = bool(params.get("allow_sending_without_reply"))
            if params.get("chat_id") not in (None, chat.id):
                chat = self.chat(Params({"chat_id": params["chat_id"]}))
        elif p.has("reply_to_message_id"):
            message_id = p.integer("reply_to_message_id") or 0
            allow = p.flag("allow_sending_without_reply")
        else:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return target

    def message(self, chat: SimChat, p: Params, missing: str) -> SimMessage:
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise bad_request(missing)
        return msg

    def flood_check(self, chat: SimChat) -> None:
        """Telegram-like flood limits (only with enforce_limits); counts the send if allowed."""
        if self.limiter is None:
            return
        try:
            self.limiter.check(chat.id, chat.is_private)
        except ApiError:
            self.faults.rate_limited += 1
            raise
        self.limiter.record(chat.id, chat.is_private)

    def upload(self, p: Params, field: str, *, photo: bool) -> SimFile:
        value = p.raw.get(field)
        part: UploadedFile | None = p.files.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            part = p.files.get(value[len("attach://") :])
        if part is not None:
            if not part.body:
                raise bad_request("file must be non-empty")
            return self.world.store_file(part.body, part.filename, part.content_type, photo=photo)
        if isinstance(value, str) and value:
            if value in self.world.files:
                return self.world.files[value]
            if re.match(r"^https?://", value):
                name = value.rstrip("/").rsplit("/", 1)[-1] or None
                return self.world.store_file(b"", name, None, photo=photo)
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {field} in the request")

    def send_common(self, p: Params, chat: SimChat) -> JsonDict:
        return {
            "reply_markup": self.reply_markup(p, chat),
            "reply_to": self.reply_target(p, chat),
            "silent": p.flag("disable_notification"),
            "params": dict(p.raw),
        }

    def member_dict(self, chat: SimChat, user: SimUser, status: str | None = None) -> JsonDict:
        """A ChatMember of ``user`` with ``status`` (default: the current one)."""
        status = status or chat.status_of(user.id)
        data: JsonDict = {"status": status, "user": user.to_dict()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=True,
                can_edit_stories=True,
                can_delete_stories=True,
                can_pin_messages=True,
            )
        elif status == "kicked":
            data["until_date"] = 0
        elif status == "restricted":
            data.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    "can_react_to_messages": False,
                    "can_edit_tag": False,
                    **{
                        f"can_{perm}": False
                        for perm in (
                            "change_info",
                            "invite_users",
                            "pin_messages",
                            "send_messages",
                            "send_polls",
                            "send_other_messages",
                            "add_web_page_previews",
                            "manage_topics",
                            "send_audios",
                            "send_documents",
                            "send_photos",
                            "send_videos",
                            "send_video_notes",
                            "send_voice_notes",
                        )
                    },
                }
            )
        return data

    # ---- methods ---------------------------------------------------------------------

    @api("getMe")
    def get_me(self, p: Params) -> JsonDict:
        return {
            **self.world.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @api("logOut")
    def log_out(self, p: Params) -> bool:
        self.world.logged_out = True
        return True

    @api("close")
    def close(self, p: Params) -> bool:
        return True

    @api("getUpdates")
    async def get_updates(self, p: Params) -> list[JsonDict]:
        queue = self.world.updates
        if self.world.webhook.url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            queue.allowed_updates = [str(a) for a in allowed]
        offset = p.integer("offset")
        if offset is not None:
            if offset < 0:
                # Negative offsets keep only the last -offset updates.
                queue.pending = queue.pending[offset:]
            else:
                queue.confirm(offset)
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.number("timeout") or 0.0, 0.0)
        # A newer getUpdates ends an older one with 409, as Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout  # real time, even with a fake clock
        while True:
            queue.drop_filtered()
            if queue.pending or self.closing or self.world.webhook.url:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await queue.wait_changed(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
        batch = queue.pending[:limit]
        for update in batch:
            update.delivered = True
        return [u.payload for u in batch]

    @api("setWebhook")
    def set_webhook(self, p: Params) -> bool:
        url = p.string("url") or ""
        if url and not re.match(r"^https?://[^\s/]+", url):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.string("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        hook = self.world.webhook
        hook.url, hook.secret_token = url, secret
        hook.max_connections = p.integer("max_connections") or 40
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            self.world.updates.allowed_updates = [str(a) for a in allowed]
        if p.flag("drop_pending_updates"):
            self.world.updates.clear()
        self.world.updates.notify()  # wake the webhook pusher and any long poll
        return True

    @api("deleteWebhook")
    def delete_webhook(self, p: Params) -> bool:
        self.world.webhook.url = ""
        self.world.webhook.secret_token = None
        if p.flag("drop_pending_updates"):
            self.world.updates.clear()
        self.world.updates.notify()
        return True

    @api("getWebhookInfo")
    def get_webhook_info(self, p: Params) -> JsonDict:
        hook = self.world.webhook
        info: JsonDict = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates.undelivered),
        }
        if hook.url:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self.world.updates.allowed_updates:
            info["allowed_updates"] = self.world.updates.allowed_updates
        return info

    @api("sendMessage")
    def send_message(self, p: Params) -> JsonDict:
        chat = self.writable_chat(p)
        raw, text, entities = self.render(p, "text", "entities", MAX_TEXT, caption=False)
        common = self.send_common(p, chat)
        self.flood_check(chat)
        msg = self.world.add_message(
            chat, self.world.bot, html=raw, text=text, entities=entities, **common
        )
        return msg.to_dict()

    def send_file(self, p: Params, field: str) -> JsonDict:
        chat = self.writable_chat(p)
        is_photo = field == "photo"
        stored = self.upload(p, field, photo=is_photo)
        raw, caption, entities = self.render(
            p, "caption", "caption_entities", MAX_CAPTION, caption=True
        )
        common = self.send_common(p, chat)
        self.flood_check(chat)
        msg = self.world.add_message(
            chat,
            self.world.bot,
            caption=caption,
            caption_html=raw,
            caption_entities=entities,
            **({"photo": stored} if is_photo else {"document": stored}),
            **common,
        )
        return msg.to_dict()

    @api("sendDocument")
    def send_document(self, p: Params) -> JsonDict:
        return self.send_file(p, "document")

    @api("sendPhoto")
    def send_photo(self, p: Params) -> JsonDict:
        return self.send_file(p, "photo")

    @api("sendLocation")
    def send_location(self, p: Params) -> JsonDict:
        chat = self.writable_chat(p)
        lat, lon = p.number("latitude"), p.number("longitude")
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise bad_request("wrong latitude or longitude specified")
        common = self.send_common(p, chat)
        msg = self.world.add_message(chat, self.world.bot, location=(lat, lon), **common)
        return msg.to_dict()

    @api("getFile")
    def get_file(self, p: Params) -> JsonDict:
        stored = self.world.files.get(p.string("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.gone:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if stored.too_big:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    def edited(self, msg: SimMessage) -> None:
        msg.remember_version(self.world.now())

    def editable(self, p: Params) -> tuple[SimChat, SimMessage]:
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self.writable_chat(p)
        msg = self.message(chat, p, "message to edit not found")
        if not msg.from_bot or msg.extra:
            raise bad_request("message can't be edited")
        return chat, msg

    @api("editMessageText")
    def edit_message_text(self, p: Params) -> JsonDict:
        chat, msg = self.editable(p)
        if msg.text is None:
            raise bad_request("there is no text in the message to edit")
        raw, text, entities = self.render(p, "text", "entities", MAX_TEXT, caption=False)
        # Omitting reply_markup removes the keyboard, exactly like Telegram.
        markup = self.reply_markup(p, chat)
        if text == msg.text and entities == msg.entities and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self.flood_check(chat)
        self.edited(msg)
        msg.html, msg.text, msg.entities, msg.reply_markup = raw, text, entities, markup
        return msg.to_dict()

    @api("editMessageCaption")
    def edit_message_caption(self, p: Params) -> JsonDict:
        _, msg = self.editable(p)
        if not msg.has_caption_slot:
            raise bad_request("there is no caption in the message to edit")
        raw, caption, entities = self.render(
            p, "caption", "caption_entities", MAX_CAPTION, caption=True
        )
        markup = self.reply_markup(p)
        if (caption, entities, markup) == (msg.caption, msg.caption_entities, msg.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self.edited(msg)
        msg.caption_html, msg.caption, msg.caption_entities = raw, caption, entities
        msg.reply_markup = markup
        return msg.to_dict()

    @api("editMessageReplyMarkup")
    def edit_message_reply_markup(self, p: Params) -> JsonDict:
        _, msg = self.editable(p)
        markup = self.reply_markup(p)
        if markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self.edited(msg)
        msg.reply_markup = markup
        return msg.to_dict()

    @api("deleteMessage")
    def delete_message(self, p: Params) -> bool:
        chat = self.chat(p)
        msg = self.message(chat, p, "message to delete not found")
        if not msg.from_bot and chat.is_group and not self.bot_is_admin(chat):
            raise bad_request("message can't be deleted")
        msg.deleted = True
        if msg.message_id in chat.pinned_ids:
            chat.pinned_ids.remove(msg.message_id)
        return True

    @api("pinChatMessage")
    def pin_chat_message(self, p: Params) -> bool:
        chat = self.writable_chat(p)
        msg = self.message(chat, p, "message to pin not found")
        if chat.type in ("supergroup", "channel") and not self.bot_is_admin(chat):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        if msg.message_id in chat.pinned_ids:
            chat.pinned_ids.remove(msg.message_id)
        chat.pinned_ids.append(msg.message_id)
        if chat.is_group:
            # Telegram posts a "pinned a message" service message; the bot gets no update for it
            # because it is its own action.
            self.world.add_message(
                chat,
                self.world.bot,
                extra={"pinned_message": msg.to_dict(with_reply=False)},
                silent=p.flag("disable_notification"),
            )
        return True

    @api("unpinChatMessage")
    def unpin_chat_message(self, p: Params) -> bool:
        chat = self.writable_chat(p)
        message_id = p.integer("message_id")
        if message_id is None and chat.pinned_ids:
            chat.pinned_ids.pop()
        elif message_id in chat.pinned_ids:
            chat.pinned_ids.remove(message_id)
        return True

    @api("unpinAllChatMessages")
    def unpin_all_chat_messages(self, p: Params) -> bool:
        self.writable_chat(p).pinned_ids.clear()
        return True

    @api("answerCallbackQuery")
    def answer_callback_query(self, p: Params) -> bool:
        query_id = p.string("callback_query_id") or ""
        query = self.world.callback_queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.string("text")
        if text is not None and utf16_len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        self.world.callback_answers[query_id] = CallbackAnswer(
            text, p.flag("show_alert"), p.string("url"), p.integer("cache_time") or 0
        )
        return True

    def scope_key(self, p: Params) -> tuple[str, str]:
        scope = p.json("scope")
        if scope is not None and (
            not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES
        ):
            raise bad_request("can't parse BotCommandScope JSON object")
        if isinstance(scope, dict) and "chat_id" in scope:
            self.chat(Params({"chat_id": scope["chat_id"]}))
        return canonical_scope(scope), p.string("language_code") or ""

    @api("setMyCommands")
    def set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        stored: list[JsonDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        key = self.scope_key(p)
        if stored:
            self.world.commands[key] = stored
        else:
            self.world.commands.pop(key, None)
        return True

    @api("getMyCommands")
    def get_my_commands(self, p: Params) -> list[JsonDict]:
        return list(self.world.commands.get(self.scope_key(p), []))

    @api("deleteMyCommands")
    def delete_my_commands(self, p: Params) -> bool:
        self.world.commands.pop(self.scope_key(p), None)
        return True

    @api("getChat")
    def get_chat(self, p: Params) -> JsonDict:
        chat = self.chat(p)
        data = chat.to_dict()
        data.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if chat.description:
            data["description"] = chat.description
        if chat.pinned is not None:
            data["pinned_message"] = chat.pinned.to_dict(with_reply=False)
        if chat.migrated_from is not None:
            data["migrated_from_chat_id"] = chat.migrated_from
        return data

    @api("getChatMember")
    def get_chat_member(self, p: Params) -> JsonDict:
        chat = self.chat(p)
        user = self.world.users.get(p.integer("user_id") or 0)
        if user is None:
            raise bad_request("user not found")
        return self.member_dict(chat, user)

    @api("getChatAdministrators")
    def get_chat_administrators(self, p: Params) -> list[JsonDict]:
        chat = self.chat(p)
        if chat.is_private:
            raise bad_request("there are no administrators in the private chat")
        return [
            self.member_dict(chat, self.world.users[uid])
            for uid, status in chat.members.items()
            if status in ("creator", "administrator") and uid in self.world.users
        ]

    @api("getChatMemberCount")
    def get_chat_member_count(self, p: Params) -> int:
        chat = self.chat(p)
        if chat.is_private:
            return 2
        present = ("creator", "administrator", "member", "restricted")
        return sum(1 for status in chat.members.values() if status in present)

    @api("sendChatAction")
    def send_chat_action(self, p: Params) -> bool:
        chat = self.writable_chat(p)
        action = p.string("action") or ""
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_actions.append((chat.id, action))
        return True
