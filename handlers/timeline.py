"""/timeline [#ref]: an incident's whole timeline, one page at a time, with ◀ ▶ buttons. Each
press is checked again from scratch (the button may be old, forwarded or forged) and shows the
page as the timeline reads now."""

from __future__ import annotations

from telegram import MaybeInaccessibleMessage, Message, Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import ChatKind, Incident
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.keyboards import parse_timeline_press, timeline_keyboard
from bot.render.timeline_pages import render_timeline_page
from handlers.context import Actor, PContext
from handlers.targeting import refusal, split_ref


def _reachable(actor: Actor, incident: Incident) -> bool:
    """In a group, its own incidents; a liaison chat and a private chat reach every one (as
    /status does)."""
    return (
        actor.chat is None
        or actor.chat.kind is ChatKind.LIAISON
        or incident.chat_id == actor.chat_id
    )


def _action(actor: Actor, incident: Incident) -> Action:
    """Whoever may add to the timeline reads it in the incident's own group; elsewhere it
    takes who may follow the situation (commander, liaison officer, admin)."""
    return Action.LOG if incident.chat_id == actor.chat_id else Action.VIEW_STATUS


def _pages_of(message: MaybeInaccessibleMessage | None, ref: int) -> bool:
    """Whether the pressed message is a page of this incident's timeline (its buttons say so):
    forged data on another message (the card) must not turn it into a page."""
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return False
    for row in markup.inline_keyboard:
        for button in row:
            press = parse_timeline_press(str(button.callback_data or ""))
            if press is not None and press[0] == ref:
                return True
    return False


async def _incident(context: PContext, words: list[str]) -> Incident:
    """The named incident, or the chat's latest (open, else the last closed one)."""
    actor = context.actor
    unit = context.unit
    ref, _ = split_ref(words)
    incident: Incident | None
    if ref is not None:
        incident = await incidents.incident_in(unit, ref)
        # another group's incident is answered exactly like a missing one: no leak
        if incident is None or not _reachable(actor, incident):
            raise UserError(N_("There is no incident #{ref} here."), ref=ref)
    elif actor.chat is not None:
        incident = await incidents.latest_open_in(unit, actor.chat_id)
        incident = incident or await incidents.latest_in(unit, actor.chat_id)
        if incident is None:
            raise UserError(N_("There is no incident in this chat yet."))
    else:
        raise UserError(N_("Name the incident, for example #12."))
    action = _action(actor, incident)
    if not may(actor.person, action, incident):
        raise refusal(action)
    return incident


async def timeline_command(update: Update, context: PContext) -> None:
    actor = context.actor
    incident = await _incident(context, list(context.args or []))
    entries = await incidents.whole_timeline_in(context.unit, incident.ref)
    page = render_timeline_page(incident, entries, actor.languages, actor.timezone, 1)
    context.answer(
        page.html,
        markup=timeline_keyboard(incident.ref, page.number, page.count),
        # in the incident's own group, a reply to it joins the timeline, as to the card
        about=incident.ref if incident.chat_id == actor.chat_id else None,
    )


async def page_button(update: Update, context: PContext) -> None:
    """◀ or ▶: the page asked for, as the timeline reads now (past its end: the last page)."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    press = parse_timeline_press(query.data or "")
    incident = await incidents.incident_in(context.unit, press[0]) if press else None
    if (
        press is None
        or incident is None
        or not _reachable(actor, incident)
        or not _pages_of(query.message, incident.ref)
    ):
        raise UserError(N_("This button is no longer valid."))
    action = _action(actor, incident)
    if not may(actor.person, action, incident):
        raise refusal(action)
    entries = await incidents.whole_timeline_in(context.unit, incident.ref)
    page = render_timeline_page(incident, entries, actor.languages, actor.timezone, press[1])
    context.edit_pressed(page.html, timeline_keyboard(incident.ref, page.number, page.count))
