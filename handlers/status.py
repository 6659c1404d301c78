"""/status: every open incident of this chat (or, in private, every one the person may see)."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import ChatKind
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.status import render_status
from bot.situation.surroundings import surroundings_in
from handlers.context import PContext
from handlers.targeting import refusal, split_ref


async def status(update: Update, context: PContext) -> None:
    actor = context.actor
    unit = context.unit
    if not may(actor.person, Action.VIEW_STATUS):
        raise refusal(Action.VIEW_STATUS)
    ref, _ = split_ref(list(context.args or []))
    if ref is not None:
        incident = await incidents.incident_in(unit, ref)
        elsewhere = (
            actor.chat is not None
            and actor.chat.kind is not ChatKind.LIAISON
            and (incident is not None and incident.chat_id != actor.chat_id)
        )
        if incident is None or elsewhere:
            raise UserError(N_("There is no incident #{ref} here."), ref=ref)
        selected = [incident]
    elif actor.chat is not None and actor.chat.kind is not ChatKind.LIAISON:
        selected = await incidents.open_in_chat_in(unit, actor.chat_id)
    else:
        # a private chat, or a liaison chat: liaison officers watch every incident
        selected = await incidents.open_everywhere_in(unit)
    timelines = await incidents.timelines_in(unit, [i.ref for i in selected], last=5)
    around = {i.ref: await surroundings_in(unit, i) for i in selected}
    context.answer(render_status(selected, timelines, actor.languages, actor.timezone, around))
