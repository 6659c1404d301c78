"""The context every handler gets: who acts, where, in which languages; the update's unit of
work; and the answers, toasts and edits it leaves for after the commit."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackContext, ExtBot

from bot.core.db import UnitOfWork
from bot.core.errors import AnyOf, Term, UserError
from bot.core.html import split_message
from bot.core.i18n import Translator, each_language, translator
from bot.core.models import Author, Chat, Person
from bot.delivery.errors import not_modified
from bot.incidents import service as incidents
from bot.render.common import text
from bot.runtime import Runtime

RUNTIME_KEY = "passerelle"

# Buttons as the outbox stores them (plain JSON) or as PTB builds them.
Markup = InlineKeyboardMarkup | dict[str, object] | None
T = TypeVar("T")
# What an answer is made of, made once the unit of work committed.
Made = Callable[[], Awaitable[T]]


@dataclass(frozen=True)
class Actor:
    """Resolved once per update by the gate."""

    person: Person
    chat: Chat | None  # None in a private chat
    chat_id: int
    languages: tuple[str, ...]  # what this chat reads: ("fr", "nl") in a mixed group
    own_language: str  # what this person reads, for private answers and button toasts
    timezone: str
    update_id: int

    @property
    def author(self) -> Author:
        return Author(self.person.id, self.person.name, self.person.username, self.own_language)

    @property
    def is_private(self) -> bool:
        return self.chat is None


class PContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with Passerelle's runtime, the gate's findings and the update's unit of
    work. What a handler answers is recorded here and sent once the unit has committed."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._actor: Actor | None = None
        self._unit: UnitOfWork | None = None
        self._update: Update | None = None
        self._toasted = False

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.application.bot_data[RUNTIME_KEY]
        return runtime

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("the gate did not run for this update")
        return self._actor

    @actor.setter
    def actor(self, value: Actor) -> None:
        self._actor = value

    @property
    def known_actor(self) -> Actor | None:
        """The actor, if the gate got that far (the error handler cannot assume it)."""
        return self._actor

    # --- the update's unit of work --------------------------------------------------------

    @property
    def unit(self) -> UnitOfWork:
        if self._unit is None or not self._unit.open:
            raise RuntimeError("this update's unit of work is not open")
        return self._unit

    def begin(self, update: Update, unit: UnitOfWork) -> None:
        self._update, self._unit = update, unit

    @property
    def in_unit(self) -> bool:
        return self._unit is not None and self._unit.open

    async def finish(self) -> None:
        """Commit the update's unit of work, then do what it left to do: refresh live
        messages, wake the outbox, send the answer. Once per update; later calls do nothing."""
        unit = self._unit
        if unit is None or not unit.open:
            return
        query = self._update.callback_query if self._update else None
        if query is not None and not self._toasted:
            # a button always gets an answer, or its spinner turns on the presser's phone
            async def answer() -> None:
                await query.answer()

            unit.effects.then(answer)
        await unit.commit()
        await self.runtime.apply(unit.effects)

    async def abandon(self) -> None:
        """Roll the update's unit of work back: it changed nothing (a redelivered update, an
        unregistered chat)."""
        if self._unit is not None and self._unit.open:
            await self._unit.rollback()

    # --- answers, sent after the commit ---------------------------------------------------

    def say(self, message: str, *, about: int | None = None, **params: Any) -> None:
        """Answer in the chat's languages with one translated line. `about`: the incident the
        answer is about (a reply to it reaches that incident)."""
        self.answer(render_text(self.actor.languages, message, **params), about=about)

    def answer(
        self, html: str | Made[str], *, markup: Markup = None, about: int | None = None
    ) -> None:
        """Answer in the chat where the update came from. `html` may be made after the
        commit (a long read apart, its rendering in a thread: it holds no one up)."""
        update, db = self._update, self.runtime.db
        bot = self.bot

        async def send() -> None:
            message = update.effective_message if update else None
            if message is None:
                return
            text = html if isinstance(html, str) else await html()
            keyboard = (
                InlineKeyboardMarkup.de_json(markup, bot) if isinstance(markup, dict) else markup
            )
            sent = await send_html(message, text, reply_markup=keyboard)
            if about is not None and sent:
                incidents.link_message_later(db, sent[-1].chat_id, sent[-1].message_id, about)

        self.unit.effects.then(send)

    def document(
        self, make: Made[bytes], *, filename: str, caption: str, photo: bool = False
    ) -> None:
        """Answer with a file (a picture when `photo`), made after the commit: drawing a map
        or writing a report holds neither the database nor the other chats."""
        update = self._update

        async def send() -> None:
            message = update.effective_message if update else None
            if message is None:
                return
            data = await make()
            if photo:
                await message.reply_photo(data, caption=caption[:1024], do_quote=False)
            else:
                await message.reply_document(
                    data, filename=filename, caption=caption[:1024], do_quote=False
                )

        self.unit.effects.then(send)

    def toast(self, words: str, *, alert: bool = False) -> None:
        """The answer to a pressed button: a short line over the chat (plain text)."""
        query = self._update.callback_query if self._update else None
        if query is None:
            return
        self._toasted = True

        async def answer() -> None:
            await query.answer(words[:200] or None, show_alert=alert)

        self.unit.effects.then(answer)

    def edit_pressed(self, html: str, markup: Markup = None) -> None:
        """Show the pressed message as it is now."""
        query = self._update.callback_query if self._update else None
        if query is None or query.message is None:
            return
        bot = self.bot

        async def edit() -> None:
            keyboard = (
                InlineKeyboardMarkup.de_json(markup, bot) if isinstance(markup, dict) else markup
            )
            try:
                await query.edit_message_text(html, reply_markup=keyboard)
            except BadRequest as exc:
                if not not_modified(exc):
                    raise

        self.unit.effects.then(edit)

    def refuse(self, error: UserError) -> None:
        """A refusal in the reader's language: a toast for a button, else an answer."""
        if self._update is not None and self._update.callback_query is not None:
            self.toast(plain(error_text((self.actor.own_language,), error)), alert=True)
        else:
            self.answer(error_text(self.actor.languages, error))

    def own(self) -> Callable[[str], str]:
        """gettext in the acting person's own language (toasts, private notes)."""
        return translator(self.actor.own_language).gettext


def _value(tr: Translator, value: Any) -> Any:
    if isinstance(value, Term):
        return tr.gettext(value)
    if isinstance(value, list):
        # a list reads as one in the reader's language: "a, b et c"; alternatives "a, b ou c"
        items = [str(_value(tr, item)) for item in value]
        return tr.join(items, alternatives=isinstance(value, AnyOf))
    return value


def translate(tr: Translator, message: str, params: dict[str, Any]) -> str:
    values = {k: _value(tr, v) for k, v in params.items()}
    return tr.gettext(message).format(**values) if values else tr.gettext(message)


def render_text(languages: tuple[str, ...], message: str, **params: Any) -> str:
    """A msgid rendered for every language of the chat. Params are shown as given, so they
    must already be HTML-safe."""
    return each_language(languages, lambda tr: translate(tr, message, params))


async def send_html(message: Message, html: str, **kwargs: Any) -> list[Message]:
    """Answer with `html`, cut into as many messages as Telegram needs (the buttons go with
    the last)."""
    parts = split_message(html)
    markup = kwargs.pop("reply_markup", None)
    sent = []
    for number, part in enumerate(parts, start=1):
        extra = {"reply_markup": markup} if number == len(parts) else {}
        sent.append(await message.reply_html(part, do_quote=False, **extra, **kwargs))
    return sent


def error_text(languages: tuple[str, ...], error: UserError) -> str:
    """A refusal, in every language of the chat; what the user typed is escaped."""
    # everything is text, the message itself too: "Usage: /cap <alert number>" is no HTML tag

    def one(tr: Translator) -> str:
        values = {k: text(str(_value(tr, v))) for k, v in error.params.items()}
        template = text(tr.gettext(error.message))
        return "⛔ " + (template.format(**values) if values else template)

    return each_language(languages, one)


def plain(html: str) -> str:
    """Telegram's toasts (button answers) are plain text, at most 200 characters."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))[:200]
