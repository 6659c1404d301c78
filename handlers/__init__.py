"""The one table of what Passerelle answers to: commands, buttons and messages.

Tiered like the table of a chat plugin: where a command works (group, private, both) and which
policy action it needs; the handlers themselves check incident-level permissions. Every handler
is registered through `handled` (handlers.wrapper), between the gate (first group) and
`finish_update` (last group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Role
from bot.core.policy import ALLOWED, Action
from bot.render import keyboards
from handlers import (
    alerts,
    basics,
    incidents,
    maps,
    phases,
    places,
    replies,
    reports,
    roster,
    sites,
    statements,
    status,
)
from handlers import requests as resource_requests
from handlers.context import PContext
from handlers.errors import on_error
from handlers.gate import LAST_GROUP, finish_update, gate
from handlers.wrapper import Callback, handled


@dataclass(frozen=True)
class Command:
    name: str
    callback: Callback
    description: str  # msgid, for /help and the command menu
    action: Action | None = None  # None: anyone may
    groups: bool = True
    private: bool = True


COMMANDS: Sequence[Command] = (
    Command("start", basics.help_command, N_("what Passerelle is and what you can do")),
    Command("help", basics.help_command, N_("the commands you can use")),
    Command(
        "incident",
        incidents.declare,
        N_("declare an incident: /incident <title>"),
        Action.DECLARE,
        private=False,
    ),
    Command(
        "exercise",
        incidents.declare_exercise,
        N_("declare an exercise: /exercise <title>"),
        Action.DECLARE,
        private=False,
    ),
    Command(
        "log",
        incidents.log_note,
        N_("add to the timeline: /log [#ref] <text>"),
        Action.LOG,
        private=False,
    ),
    Command("status", status.status, N_("the situation: every open incident"), Action.VIEW_STATUS),
    Command(
        "set",
        incidents.set_field,
        N_("change title, type, severity, status or location: /set [#ref] <field> <value>"),
        Action.UPDATE,
    ),
    Command(
        "assign",
        incidents.assign,
        N_("name the commander, spokesperson or liaison: /assign [#ref] <role> @name"),
        Action.ASSIGN,
    ),
    Command("close", incidents.close, N_("close an incident: /close [#ref]"), Action.CLOSE),
    Command(
        "request",
        resource_requests.request,
        N_("ask for resources across the border: /request <quantity> <type> [#ref] [note]"),
        Action.REQUEST,
        private=False,
    ),
    Command(
        "release",
        resource_requests.release,
        N_("free a unit committed to the incident: /release <unit code>"),
        Action.REQUEST,
        private=False,
    ),
    Command(
        "cancel",
        resource_requests.cancel,
        N_("withdraw an open resource request: /cancel [#ref] [request number]"),
        Action.REQUEST,
        private=False,
    ),
    Command(
        "roster",
        roster.roster,
        N_("available units per type and country: /roster [type] [FR|BE]"),
        Action.VIEW_ROSTER,
    ),
    Command(
        "unit",
        roster.unit,
        N_("a unit, or change its status: /unit <code> [available|unavailable|maintenance]"),
        Action.UNIT,
    ),
    Command(
        "rollcall",
        roster.rollcall,
        N_("confirm your agency's units now (in the agency's chat)"),
        Action.UNIT,
        private=False,
    ),
    Command(
        "alert",
        alerts.alert,
        N_("alert the linked chats: /alert [severity] <text>, or fr: … | nl: …"),
        Action.ALERT,
    ),
    Command(
        "alerts",
        alerts.list_alerts,
        N_("recent alerts and who acknowledged them"),
        Action.VIEW_ALERTS,
    ),
    Command("cap", alerts.cap, N_("an alert as a CAP 1.2 file: /cap <alert number>"), Action.ALERT),
    Command(
        "statement",
        statements.statement,
        N_("a media statement: drafted for, or published by, the spokesperson"),
        Action.STATEMENT,
    ),
    Command(
        "escalate",
        phases.escalate,
        N_("raise the phase (governor, préfet …): /escalate [#ref] [FR|BE]"),
        Action.ESCALATE,
    ),
    Command(
        "deescalate",
        phases.deescalate,
        N_("lower the phase again: /deescalate [#ref] [FR|BE]"),
        Action.ESCALATE,
    ),
    Command(
        "sites",
        sites.sites_command,
        N_("at-risk sites (Seveso, nuclear …) near an incident or place: /sites [#ref | place]"),
        Action.VIEW_SITES,
    ),
    Command(
        "map",
        maps.map_command,
        N_("the situation map: incident, units, at-risk sites, border: /map [#ref]"),
        Action.VIEW_SITES,
    ),
    Command(
        "report",
        reports.report_command,
        N_("the after-action report (HTML): /report [#ref]"),
        Action.REPORT,
    ),
    Command("lang", basics.lang, N_("choose your language: /lang fr|nl|en")),
)


def commands_for(roles: frozenset[Role]) -> list[tuple[str, str]]:
    """The commands someone with these roles can use (for /help, wherever it is asked)."""
    return [
        (c.name, c.description) for c in COMMANDS if c.action is None or roles & ALLOWED[c.action]
    ]


def _in_the_right_place(command: Command) -> Callback:
    """Say where a command works instead of ignoring it in the wrong kind of chat."""

    async def run(update: Update, context: PContext) -> None:
        private = context.actor.is_private
        if private and not command.private:
            context.say(N_("This command works in an incident's group chat."))
        elif not private and not command.groups:
            context.say(N_("This command works in a private chat with me."))
        else:
            await command.callback(update, context)

    return run


# Buttons, by the prefix of their callback data (bot.render.keyboards: the one codec).
BUTTONS: Sequence[tuple[str, Callback]] = (
    (keyboards.CARD_PREFIX, incidents.card_button),
    (keyboards.PLACE_PREFIX, places.place_button),
    (keyboards.RATING_PREFIX, reports.rating_button),
    (keyboards.OFFER_PREFIX, resource_requests.offer_button),
    (keyboards.UNIT_PREFIX, roster.unit_button),
    (keyboards.ROLLCALL_PREFIX, roster.rollcall_button),
    (keyboards.ALERT_PREFIX, alerts.acknowledge),
    (keyboards.STATEMENT_PREFIX, statements.decision),
)

_MESSAGE = filters.UpdateType.MESSAGE & ~filters.COMMAND
# Messages that are not commands: what they are decides who takes them.
MESSAGES: Sequence[tuple[filters.BaseFilter, Callback]] = (
    # the spokesperson's new text for a draft, as a reply to the edit prompt
    (_MESSAGE & filters.REPLY & filters.TEXT & filters.ChatType.PRIVATE, statements.edited_text),
    (filters.LOCATION & filters.ChatType.GROUPS, incidents.location),
    # a reply to one of the bot's messages: routed by what that message is
    (
        _MESSAGE & filters.REPLY & (filters.TEXT | filters.CAPTION) & filters.ChatType.GROUPS,
        replies.reply,
    ),
)


async def unknown_button(update: Update, context: PContext) -> None:
    """Callback data that no handler knows (forged, or from a retired keyboard)."""
    raise UserError(N_("This button is no longer valid."))


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    app.bot_data["commands_for"] = commands_for
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for command in COMMANDS:
        app.add_handler(
            CommandHandler(
                command.name,
                handled(_in_the_right_place(command)),
                filters=filters.UpdateType.MESSAGE,
            )
        )
    for prefix, callback in BUTTONS:
        app.add_handler(CallbackQueryHandler(handled(callback), pattern=rf"^{prefix}:"))
    # any other callback data (forged, or of a version no longer served) gets an answer too
    app.add_handler(CallbackQueryHandler(handled(unknown_button)))
    for message_filter, callback in MESSAGES:
        app.add_handler(MessageHandler(message_filter, handled(callback)))
    # last: the update's unit of work is committed even when no handler took the update
    app.add_handler(TypeHandler(Update, finish_update), group=LAST_GROUP)
    app.add_error_handler(on_error)
