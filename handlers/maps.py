"""/map [#ref]: the situation map as a picture, its words in the chat's languages."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_, translator
from bot.core.policy import Action, may
from bot.geo.maps import render_map
from bot.situation.map import map_data_in
from handlers.context import PContext, render_text
from handlers.targeting import refusal, target


async def map_command(update: Update, context: PContext) -> None:
    actor = context.actor
    settings = context.runtime.settings
    if not may(actor.person, Action.VIEW_SITES):
        raise refusal(Action.VIEW_SITES)
    incident, _ = await target(context, list(context.args or []), Action.VIEW_SITES)
    if incident.lat is None or incident.lon is None:
        raise UserError(
            N_(
                "#{ref} has no coordinates yet: share a location as a reply to its card, "
                "or /set location <town>."
            ),
            ref=incident.ref,
        )
    when = translator(actor.languages[0]).datetime(incident.updated_at, actor.timezone)
    db = context.runtime.db

    async def picture() -> bytes:
        # read apart and drawn in a thread, after the commit: no one waits on the map
        async with db.read_apart() as tx:
            data = await map_data_in(tx, incident, settings.sites.near_km, when)
        return await asyncio.to_thread(render_map, data, actor.languages)

    context.document(
        picture,
        filename=f"passerelle-{incident.ref}-map.png",
        caption=render_text(actor.languages, N_("🗺 Situation map of #{ref}"), ref=incident.ref),
        photo=True,
    )
