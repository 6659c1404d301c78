"""/escalate and /deescalate: the phase of each country involved, one level at a time."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Country
from bot.core.policy import Action
from bot.core.vocabulary import parse_country
from bot.incidents import phases
from bot.render.phases import render_phase_changes
from bot.resources import requests
from handlers.context import PContext
from handlers.targeting import target


async def escalate(update: Update, context: PContext) -> None:
    await _change(update, context, up=True)


async def deescalate(update: Update, context: PContext) -> None:
    await _change(update, context, up=False)


async def _change(update: Update, context: PContext, *, up: bool) -> None:
    actor = context.actor
    unit = context.unit
    incident, words = await target(context, list(context.args or []), Action.ESCALATE)
    country: Country | None = None
    if words:
        country = parse_country(words[0])
        if country is None or len(words) > 1:
            raise UserError(N_("Usage: /escalate [#ref] [FR|BE] (and /deescalate)."))
    result = await phases.change(
        unit,
        ref=incident.ref,
        up=up,
        country=country,
        author=actor.author,
        chat_id=actor.chat_id,
        notify=context.runtime.settings.escalation.chats,
        involved=await requests.involved_countries_in(unit, incident),
    )
    context.answer(render_phase_changes(incident.ref, result.changes, up, actor.languages))
