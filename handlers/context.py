"""The context every handler gets: who acts, where, in which languages; and how to answer."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Message, Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.core.errors import Term, UserError
from bot.core.html import split_message
from bot.core.i18n import Translator, each_language, translator
from bot.core.models import Author, Chat, Person
from bot.render.common import text
from bot.runtime import Runtime

RUNTIME_KEY = "passerelle"


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
    """PTB's context with Passerelle's runtime and the gate's findings."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._actor: Actor | None = None

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


def _value(tr: Translator, value: Any) -> Any:
    if isinstance(value, Term):
        return tr.gettext(value)
    if isinstance(value, list):
        return ", ".join(str(_value(tr, item)) for item in value)
    return value


def translate(tr: Translator, message: str, params: dict[str, Any]) -> str:
    values = {k: _value(tr, v) for k, v in params.items()}
    return tr.gettext(message).format(**values) if values else tr.gettext(message)


def render_text(languages: tuple[str, ...], message: str, **params: Any) -> str:
    """A msgid rendered for every language of the chat. Params are shown as given, so they
    must already be HTML-safe."""
    return each_language(languages, lambda tr: translate(tr, message, params))


async def send_html(message: Message, html: str, **kwargs: Any) -> list[Message]:
    sent = []
    for part in split_message(html):
        sent.append(await message.reply_html(part, do_quote=False, **kwargs))
    return sent


async def say(update: Update, context: PContext, message: str, **params: Any) -> Message | None:
    """Answer in the chat's languages with one translated line."""
    html = render_text(context.actor.languages, message, **params)
    return await answer(update, context, html)


async def answer(update: Update, context: PContext, html: str) -> Message | None:
    if update.effective_message is None:
        return None
    sent = await send_html(update.effective_message, html)
    return sent[-1] if sent else None


def error_text(languages: tuple[str, ...], error: UserError) -> str:
    """A refusal, in every language of the chat; what the user typed is escaped."""
    # everything is text, the message itself too: "Usage: /cap <alert number>" is no HTML tag

    def one(tr: Translator) -> str:
        values = {k: text(str(_value(tr, v))) for k, v in error.params.items()}
        template = text(tr.gettext(error.message))
        return "⛔ " + (template.format(**values) if values else template)

    return each_language(languages, one)


async def refuse(update: Update, context: PContext, error: UserError) -> None:
    await answer(update, context, error_text(context.actor.languages, error))


def own(context: PContext) -> Callable[[str], str]:
    """gettext in the acting person's own language (toasts, private notes)."""
    return translator(context.actor.own_language).gettext


def plain(html: str) -> str:
    """Telegram's toasts (button answers) are plain text, at most 200 characters."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))[:200]
