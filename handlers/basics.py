"""/start, /help and /lang."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from telegram import Update

from bot.core import directory
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import LANGUAGES, Role
from bot.core.policy import roles_of
from bot.render.help import LANGUAGE_NAMES, render_help
from handlers.context import PContext

# Filled by handlers.register(): which commands a person with these roles may use.
CommandsFor = Callable[[frozenset[Role]], Sequence[tuple[str, str]]]


async def help_command(update: Update, context: PContext) -> None:
    actor = context.actor
    commands_for: CommandsFor = context.application.bot_data["commands_for"]
    roles = roles_of(actor.person)
    shown = sorted(roles - {Role.RESPONDER}) or [Role.RESPONDER]
    context.answer(render_help(actor.languages, actor.person.name, shown, commands_for(roles)))


async def lang(update: Update, context: PContext) -> None:
    """In private: the person's own language. In a group: the group's languages (admins)."""
    actor = context.actor
    wanted = [w.lower() for w in (context.args or [])]
    if not wanted or any(w not in LANGUAGES for w in wanted) or len(set(wanted)) != len(wanted):
        raise UserError(
            N_("Usage: /lang fr, /lang nl or /lang en (a group may read two: /lang fr nl).")
        )
    if actor.is_private:
        if len(wanted) != 1:
            raise UserError(N_("Choose one language: /lang fr, /lang nl or /lang en."))
        await directory.set_language(
            context.unit, actor.person.id, actor.person.name, actor.person.username, wanted[0]
        )
        context.actor = replace(actor, languages=(wanted[0],), own_language=wanted[0])
    else:
        if Role.ADMIN not in actor.person.roles:
            raise UserError(N_("Only an admin can change the languages of a group."))
        await directory.set_chat_languages(context.unit, actor.chat_id, wanted)
        context.actor = replace(actor, languages=tuple(wanted))
    context.say(
        N_("✅ I will write in {language} here."),
        language=[Term(LANGUAGE_NAMES[w]) for w in wanted],
    )
