"""/start, /help, /lang, and a command that Passerelle does not know."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import replace

from telegram import MessageEntity, Update

from bot.core import directory
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import LANGUAGES, Chat, Person, Role
from bot.core.policy import roles_of
from bot.render.help import LANGUAGE_NAMES, HelpLine, render_help
from handlers.context import PContext

# Filled by handlers.register(): what a person may do here (handlers.commands_for), and every
# name of every command, in every language.
CommandsFor = Callable[[Person, Chat | None], Sequence[HelpLine]]
COMMANDS_FOR = "commands_for"
COMMAND_NAMES = "command_names"


async def help_command(update: Update, context: PContext) -> None:
    actor = context.actor
    commands_for: CommandsFor = context.application.bot_data[COMMANDS_FOR]
    roles = roles_of(actor.person)
    shown = sorted(roles - {Role.RESPONDER}) or [Role.RESPONDER]
    lines = commands_for(actor.person, actor.chat)
    context.answer(render_help(actor.languages, actor.person.name, shown, lines))


_LANG_USAGE = N_("Usage: /lang fr, /lang nl or /lang en (a group may read two: /lang fr nl).")


async def lang(update: Update, context: PContext) -> None:
    """In private: the person's own language. In a group: the group's languages (admins)."""
    actor = context.actor
    wanted = [w.lower() for w in (context.args or [])]
    if not wanted or any(w not in LANGUAGES for w in wanted) or len(set(wanted)) != len(wanted):
        raise UserError(_LANG_USAGE)
    if len(wanted) > 2:
        raise UserError(_LANG_USAGE)  # a group reads one language, or two side by side
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


async def unknown_command(update: Update, context: PContext) -> None:
    """A command no handler took: say so, and point to /help, rather than stay silent; only a
    command addressed to this bot (`/x` or `/x@thisbot`, not `/x@otherbot`)."""
    message = update.effective_message
    assert message is not None
    entity = next(
        (e for e in message.entities if e.type == MessageEntity.BOT_COMMAND and e.offset == 0),
        None,
    )
    if entity is None:
        return
    command, _, addressee = message.parse_entity(entity).partition("@")
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # another bot's command
    names: Sequence[str] = context.application.bot_data[COMMAND_NAMES]
    close = difflib.get_close_matches(command.removeprefix("/").lower(), names, n=1, cutoff=0.75)
    if close:
        raise UserError(
            N_(
                "I do not know the command {command}. Did you mean /{suggestion}? "
                "/help lists the commands you can use."
            ),
            command=command,
            suggestion=close[0],
        )
    raise UserError(
        N_("I do not know the command {command}. /help lists the commands you can use."),
        command=command,
    )
