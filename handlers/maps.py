"""/map [#ref]: the situation map as a picture, its words in the chat's languages."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_, translator
from bot.core.models import ResourceType
from bot.core.policy import Action, may
from bot.core.vocabulary import TYPE
from bot.geo.maps import render_map
from bot.situation.map import map_data
from handlers.context import PContext, refuse, render_text
from handlers.targeting import refusal, target


def joined(languages: tuple[str, ...], message: str) -> str:
    """A short text in every language of the chat: 'Incident / Incident'."""
    seen: list[str] = []
    for language in languages:
        word = translator(language).gettext(message)
        if word not in seen:
            seen.append(word)
    return " / ".join(seen)


def type_label(languages: tuple[str, ...], type_code: str) -> str:
    """The roster's name for a unit type, in the chat's languages."""
    try:
        return joined(languages, TYPE[ResourceType(type_code)])
    except ValueError:
        return type_code.replace("_", " ")


async def map_command(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    runtime = context.runtime
    try:
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
        data = await map_data(
            runtime.db,
            incident,
            runtime.settings.sites.near_km,
            lambda code: type_label(actor.languages, code),
            when,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    png = render_map(data, lambda msgid: joined(actor.languages, msgid))
    caption = render_text(actor.languages, N_("🗺 Situation map of #{ref}"), ref=incident.ref)
    await message.reply_photo(png, caption=caption[:1024], do_quote=False)
