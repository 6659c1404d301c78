"""The one table of what Passerelle answers to: commands, buttons and messages.

Tiered like the table of a chat plugin: where a command works (group, private, both) and which
policy action it needs; the handlers themselves check incident-level permissions. Every handler
is registered through `handled` (handlers.wrapper), between the gate (first group) and
`finish_update` (last group).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
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

from bot.core.config import Settings
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Chat, Person, Role
from bot.core.policy import ALLOWED, Action, may, roles_of
from bot.render import keyboards
from bot.render.help import HelpLine
from bot.resources import units
from handlers import (
    alerts,
    basics,
    board,
    edits,
    incidents,
    maps,
    media,
    phases,
    places,
    replies,
    reports,
    roster,
    sites,
    statements,
    status,
    timeline,
)
from handlers import requests as resource_requests
from handlers.context import PContext
from handlers.errors import on_error
from handlers.gate import LAST_GROUP, finish_update, gate
from handlers.wrapper import Callback, handled


@dataclass(frozen=True)
class Command:
    """One command. `name` is English, understood everywhere; `names` gives the word a French
    or Dutch responder would type where it is another ("fr": "demande"), understood everywhere
    too and listed in that language's menu and /help. Telegram's command names are
    [a-z0-9_]{1,32}: no accents."""

    name: str
    callback: Callback
    description: str  # msgid, for /help and the command menu
    action: Action | None = None  # None: anyone may
    groups: bool = True
    private: bool = True
    names: Mapping[str, str] = field(default_factory=dict)
    # Part of the command needs more than its action (a unit's agency, an admin): who has it
    # here, and what the command still does for the others (a msgid for /help; None: /help
    # does not offer it to them).
    full: Callable[[Person, Chat | None], bool] | None = None
    partial: str | None = None
    # whether this Passerelle offers the command at all (None: always); one that is off is
    # still understood (it says it is off) but neither /help nor the menus offer it
    offered: Callable[[Settings], bool] | None = None

    def name_in(self, language: str) -> str:
        return self.names.get(language, self.name)

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *dict.fromkeys(n for n in self.names.values() if n != self.name))


def _admin(person: Person, chat: Chat | None) -> bool:
    return Role.ADMIN in person.roles


def _reads_timelines(person: Person, chat: Chat | None) -> bool:
    return chat is not None or may(person, Action.VIEW_STATUS)


COMMANDS: Sequence[Command] = (
    Command("start", board.start, N_("what Passerelle is and what you can do")),
    Command(
        "help",
        basics.help_command,
        N_("the commands you can use"),
        names={"fr": "aide", "nl": "hulp"},
    ),
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
        names={"fr": "exercice", "nl": "oefening"},
    ),
    Command(
        "log",
        incidents.log_note,
        N_("add to the timeline: /log [#ref] <text>"),
        Action.LOG,
        private=False,
        names={"fr": "note", "nl": "logboek"},
    ),
    Command(
        "timeline",
        timeline.timeline_command,
        N_("the whole timeline, page by page: /timeline [#ref]"),
        Action.LOG,
        names={"fr": "maincourante", "nl": "tijdlijn"},
        # in private, only who may follow incidents from outside their group
        full=_reads_timelines,
    ),
    Command(
        "status",
        status.status,
        N_("the situation: every open incident, or one: /status [#ref]"),
        Action.VIEW_STATUS,
        names={"fr": "situation"},
    ),
    Command(
        "set",
        incidents.set_field,
        N_("change title, type, severity, status or location: /set [#ref] <field> <value>"),
        Action.UPDATE,
        names={"fr": "modifier", "nl": "wijzigen"},
    ),
    Command(
        "assign",
        incidents.assign,
        N_("name the commander, spokesperson or liaison: /assign [#ref] <role> [@name]"),
        Action.ASSIGN,
        names={"fr": "nommer", "nl": "aanduiden"},
    ),
    Command(
        "close",
        incidents.close,
        N_("close an incident: /close [#ref]"),
        Action.CLOSE,
        names={"fr": "cloturer", "nl": "afsluiten"},
    ),
    Command(
        "request",
        resource_requests.request,
        N_("ask for resources across the border: /request [#ref] [quantity] <type> [note]"),
        Action.REQUEST,
        private=False,
        names={"fr": "demande", "nl": "aanvraag"},
    ),
    Command(
        "release",
        resource_requests.release,
        N_("free a unit committed to the incident: /release [#ref] <unit code>"),
        Action.REQUEST,
        private=False,
        names={"fr": "liberer", "nl": "vrijgeven"},
    ),
    Command(
        "cancel",
        resource_requests.cancel,
        N_("withdraw an open resource request: /cancel [#ref] [request number]"),
        Action.REQUEST,
        private=False,
        names={"fr": "annuler", "nl": "annuleren"},
    ),
    Command(
        "roster",
        roster.roster,
        N_("available units per type and country: /roster [type] [FR|BE]"),
        Action.VIEW_ROSTER,
        names={"fr": "moyens", "nl": "eenheden"},
    ),
    Command(
        "unit",
        roster.unit,
        N_(
            "show a unit or change its status: "
            "/unit <code> [available|unavailable|maintenance|en route|on scene] [note]; "
            "free places: /unit <code> free 4/6; take it back: /unit <code> recall <reason>"
        ),
        Action.UNIT,
        names={"fr": "moyen", "nl": "eenheid"},
        full=units.manages_units,
        partial=N_("a unit and its status: /unit <code>"),
    ),
    Command(
        "rollcall",
        roster.rollcall,
        N_("confirm your agency's units now (in the agency's chat)"),
        Action.UNIT,
        private=False,
        names={"fr": "pointage", "nl": "controle"},
        full=units.manages_units,
    ),
    Command(
        "alert",
        alerts.alert,
        N_("alert the linked chats: /alert [#ref] [severity] <text>, or fr: … | nl: …"),
        Action.ALERT,
        names={"fr": "alerte", "nl": "alarm"},
    ),
    Command(
        "alerts",
        alerts.list_alerts,
        N_("recent alerts and who acknowledged them"),
        Action.VIEW_ALERTS,
        names={"fr": "alertes", "nl": "alarmen"},
    ),
    Command("cap", alerts.cap, N_("an alert as a CAP 1.2 file: /cap <alert number>"), Action.ALERT),
    Command(
        "statement",
        statements.statement,
        N_(
            "a media statement, drafted for or published by the spokesperson: "
            "/statement [#ref] <text>"
        ),
        Action.STATEMENT,
        names={"fr": "communique", "nl": "persbericht"},
    ),
    Command(
        "escalate",
        phases.escalate,
        N_("raise the phase (governor, préfet …): /escalate [#ref] [FR|BE]"),
        Action.ESCALATE,
        names={"fr": "relever", "nl": "opschalen"},
    ),
    Command(
        "deescalate",
        phases.deescalate,
        N_("lower the phase again: /deescalate [#ref] [FR|BE]"),
        Action.ESCALATE,
        names={"fr": "abaisser", "nl": "afschalen"},
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
        names={"fr": "carte", "nl": "kaart"},
    ),
    Command(
        "board",
        board.board_command,
        N_("a personal link to the situation board, for a screen: /board [revoke]"),
        groups=False,
        names={"fr": "tableau", "nl": "bord"},
        offered=lambda settings: settings.board.enabled,
    ),
    Command(
        "report",
        reports.report_command,
        N_("the after-action report (HTML): /report [#ref]"),
        Action.REPORT,
        names={"fr": "rapport", "nl": "verslag"},
    ),
    Command(
        "lang",
        basics.lang,
        N_("choose your language: /lang fr|nl|en; a group's (admin): /lang fr nl"),
        names={"fr": "langue", "nl": "taal"},
        full=_admin,
        partial=N_("choose your language, in a private chat with me: /lang fr|nl|en"),
    ),
)


def offered(settings: Settings) -> list[Command]:
    """The commands this Passerelle offers in /help and the command menus."""
    return [c for c in COMMANDS if c.offered is None or c.offered(settings)]


def commands_for(
    person: Person, chat: Chat | None, commands: Sequence[Command] = COMMANDS
) -> list[HelpLine]:
    """What this person may do (for /help, wherever it is asked): the commands their roles
    allow, and of a command they may only partly use, that part."""
    roles = roles_of(person)
    lines = []
    for c in commands:
        if c.action is not None and not roles & ALLOWED[c.action]:
            continue
        description: str | None = c.description
        if c.full is not None and not c.full(person, chat):
            description = c.partial
        if description is not None:
            lines.append(HelpLine(c.name, description, c.names))
    return lines


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
    (keyboards.TIMELINE_PREFIX, timeline.page_button),
)

_MESSAGE = filters.UpdateType.MESSAGE & ~filters.COMMAND
# What the field sends besides words (a GIF also carries a document: it is chatter).
_MEDIA = (
    filters.PHOTO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.VOICE
    | filters.AUDIO
    | filters.Document.ALL
    | filters.CONTACT
    | filters.VENUE
) & ~filters.ANIMATION
_LOG_NAMES = next(c.all_names for c in COMMANDS if c.name == "log")
# Messages that are not commands: what they are decides who takes them.
MESSAGES: Sequence[tuple[filters.BaseFilter, Callback]] = (
    # an edited text or caption (a caption taken away too): the timeline entry it is follows
    # it (a live location's moves are no edit of words)
    (
        filters.UpdateType.EDITED_MESSAGE & ~filters.LOCATION & filters.ChatType.GROUPS,
        edits.edited,
    ),
    # the spokesperson's new text for a draft, as a reply to the edit prompt
    (_MESSAGE & filters.REPLY & filters.TEXT & filters.ChatType.PRIVATE, statements.edited_text),
    # media (a venue too, before the shared location it carries): to the timeline, as a reply
    # to a bot message about an incident, with a /log caption, or as more of an album
    (_MESSAGE & _MEDIA & filters.ChatType.GROUPS, media.on_media(_LOG_NAMES)),
    # a location shared (a live location's later moves are edits: they change nothing)
    (filters.UpdateType.MESSAGE & filters.LOCATION & filters.ChatType.GROUPS, incidents.location),
    # a reply to one of the bot's messages: routed by what that message is (a GIF's or a
    # sticker's caption is chatter)
    (
        _MESSAGE
        & filters.REPLY
        & (filters.TEXT | filters.CAPTION)
        & ~filters.ANIMATION
        & filters.ChatType.GROUPS,
        replies.reply,
    ),
)


async def unknown_button(update: Update, context: PContext) -> None:
    """Callback data that no handler knows (forged, or from a retired keyboard)."""
    raise UserError(N_("This button is no longer valid."))


def register(app: Application[Any, Any, Any, Any, Any, Any], settings: Settings) -> None:
    app.bot_data[basics.COMMANDS_FOR] = partial(commands_for, commands=offered(settings))
    app.bot_data[basics.COMMAND_NAMES] = [name for c in COMMANDS for name in c.all_names]
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for command in COMMANDS:
        app.add_handler(
            CommandHandler(
                command.all_names,
                handled(_in_the_right_place(command)),
                filters=filters.UpdateType.MESSAGE,
            )
        )
    # after every command of the table, in the same group: a command none of them took
    app.add_handler(
        MessageHandler(
            filters.COMMAND & filters.UpdateType.MESSAGE, handled(basics.unknown_command)
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
