"""/escalate and /deescalate: the phase of each country involved, one level at a time."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_, Translator, each_language
from bot.core.models import Country
from bot.core.policy import Action
from bot.core.vocabulary import AUTHORITY, parse_country
from bot.incidents import phases
from bot.render.common import FLAG
from bot.render.phases import phase_name
from bot.situation import surroundings as situation
from handlers.context import PContext, answer, refuse
from handlers.targeting import target


async def escalate(update: Update, context: PContext) -> None:
    await _change(update, context, up=True)


async def deescalate(update: Update, context: PContext) -> None:
    await _change(update, context, up=False)


async def _change(update: Update, context: PContext, *, up: bool) -> None:
    actor = context.actor
    db = context.runtime.db
    try:
        incident, words = await target(context, list(context.args or []), Action.ESCALATE)
        country: Country | None = None
        if words:
            country = parse_country(words[0])
            if country is None or len(words) > 1:
                raise UserError(N_("Usage: /escalate [#ref] [FR|BE] (and /deescalate)."))
        async with db.read() as tx:
            involved = await situation.involved_countries_in(tx, incident)
        result = await phases.change(
            db,
            ref=incident.ref,
            up=up,
            country=country,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
            notify=context.runtime.settings.escalation.chats,
            involved=involved,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await context.runtime.cards.touch_incident(incident.ref)
    context.runtime.outbox.wake()

    def block(tr: Translator) -> str:
        _ = tr.gettext
        lines = []
        for changed, _old, new in result.changes:
            message = _("{flag} #{ref}: {phase}.") if up else _("{flag} #{ref}: back to {phase}.")
            authority = _("{authority} in charge").format(authority=_(AUTHORITY[(changed, new)]))
            lines.append(
                message.format(
                    flag=FLAG[changed], ref=incident.ref, phase=phase_name(tr, changed, new)
                )
                + " "
                + authority
            )
        return "\n".join(lines)

    await answer(update, context, each_language(actor.languages, block))
