"""/sites [#ref | place]: the at-risk sites near an incident or a named place."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import AnyOf, UserError
from bot.core.i18n import N_
from bot.core.models import Incident
from bot.core.policy import Action, may
from bot.geo import gazetteer, sites
from bot.render.common import text
from bot.render.places import place_label
from bot.render.sites import render_sites
from handlers.context import PContext
from handlers.targeting import refusal, split_ref, target


async def where_from(
    context: PContext, words: list[str], action: Action
) -> tuple[str, float, float, Incident | None]:
    """The point a command is about: `#ref`, a place name, or the chat's open incident.
    Returns (HTML-safe label, lat, lon, incident)."""
    ref, rest = split_ref(words)
    if ref is None and rest:
        name = " ".join(rest)
        found = gazetteer.lookup(name)
        if not found:
            raise UserError(N_("I know no place called {name} in the border region."), name=name)
        if len(found) > 1:
            raise UserError(
                N_("Which {name}: {places}? Add FR or BE after the name."),
                name=name,
                places=AnyOf(place_label(p) for p in found),
            )
        place = found[0]
        return text(place.label), place.lat, place.lon, None
    incident, _ = await target(context, words, action)
    if incident.lat is None or incident.lon is None:
        raise UserError(
            N_(
                "#{ref} has no coordinates yet: share a location as a reply to its card, or "
                "/set location <town>."
            ),
            ref=incident.ref,
        )
    return f"#{incident.ref} {text(incident.title)}", incident.lat, incident.lon, incident


async def sites_command(update: Update, context: PContext) -> None:
    actor = context.actor
    settings = context.runtime.settings.sites
    if not may(actor.person, Action.VIEW_SITES):
        raise refusal(Action.VIEW_SITES)
    where, lat, lon, _ = await where_from(context, list(context.args or []), Action.VIEW_SITES)
    found = await sites.near_in(context.unit, lat, lon, settings.near_km)
    context.answer(render_sites(where, found, settings.near_km, actor.languages))
