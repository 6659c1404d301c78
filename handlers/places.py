"""Place names typed by people: `/set location Tournai`, `/incident Feu à Comines`. A name the
gazetteer knows gives the incident its coordinates; a name several places share is asked
about with buttons; anything else stays a free-text location."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Incident, IncidentField, Place
from bot.core.policy import Action, may
from bot.geo import gazetteer
from bot.geo.distance import distance_km
from bot.incidents import service as incidents
from bot.render.common import text
from bot.render.places import choice_keyboard, parse_place_press, place_label, place_line
from handlers.context import PContext, error_text, own, plain, refuse, render_text, say
from handlers.targeting import refusal


async def _located(context: PContext, incident: Incident) -> None:
    """Whatever waits for the incident's coordinates hears of them; the card shows them."""
    await context.runtime.cards.touch_incident(incident.ref)


async def ask_which(
    update: Update, context: PContext, ref: int, name: str, found: list[Place]
) -> None:
    message = update.effective_message
    if message is None:
        return
    html = render_text(
        context.actor.languages,
        N_("📍 Which {name} do you mean, for #{ref}? Choose below."),
        name=text(name),
        ref=ref,
    )
    await message.reply_html(
        html,
        do_quote=False,
        reply_markup=InlineKeyboardMarkup.de_json(choice_keyboard(ref, found), context.bot),
    )


# A named place this close to the incident's coordinates is where they already are.
SAME_PLACE_KM = 10.0


def _already_there(incident: Incident, places: list[Place]) -> bool:
    if incident.lat is None or incident.lon is None:
        return False
    return any(
        distance_km(incident.lat, incident.lon, p.lat, p.lon) <= SAME_PLACE_KM for p in places
    )


async def set_location(update: Update, context: PContext, incident: Incident, value: str) -> None:
    """/set location <text>: coordinates when the text names a known place."""
    actor = context.actor
    db = context.runtime.db
    found = gazetteer.find_in_text(value)
    if found is not None and _already_there(incident, found[1]):
        # a shared location is more precise than a town's centre: keep it, change the text
        found = None
        precise = True
    else:
        precise = False
    try:
        if found is not None and len(found[1]) == 1:
            place = found[1][0]
            incident = await incidents.locate(
                db,
                ref=incident.ref,
                text=value,
                lat=place.lat,
                lon=place.lon,
                author=actor.author,
                chat_id=actor.chat_id,
                update_id=actor.update_id,
            )
        else:
            incident = await incidents.change_text(
                db,
                ref=incident.ref,
                field=IncidentField.LOCATION,
                value=value,
                author=actor.author,
                chat_id=actor.chat_id,
                update_id=actor.update_id,
            )
    except UserError as error:
        await refuse(update, context, error)
        return
    await _located(context, incident)
    if precise:
        await say(update, context, N_("✅ #{ref} updated."), ref=incident.ref)
    elif found is None:
        await say(
            update,
            context,
            N_(
                "✅ #{ref} updated. I know no town by that name, so there are no coordinates "
                "yet: name a town, or share a location as a reply to the card."
            ),
            ref=incident.ref,
        )
    elif len(found[1]) == 1:
        await say(
            update,
            context,
            N_("✅ #{ref} located: {place}."),
            ref=incident.ref,
            place=place_line(found[1][0]),
        )
    else:
        await ask_which(update, context, incident.ref, found[0], found[1])


async def after_declare(update: Update, context: PContext, incident: Incident) -> None:
    """`/incident Feu d'entrepôt à Comines`: the title names a place; locate it, or ask."""
    found = gazetteer.find_in_text(incident.title, marked_only=True)
    if found is None:
        return
    name, places = found
    if len(places) > 1:
        await ask_which(update, context, incident.ref, name, places)
        return
    actor = context.actor
    try:
        # the update is already claimed by the declaration: this follows from it
        incident = await incidents.locate(
            context.runtime.db,
            ref=incident.ref,
            text=None if incident.location_text else places[0].name,
            lat=places[0].lat,
            lon=places[0].lon,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=None,
        )
    except UserError:
        return
    await _located(context, incident)


async def place_button(update: Update, context: PContext) -> None:
    """A choice among places that share a name. Checked again: old, forwarded or forged."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = own(context)
    press = parse_place_press(query.data or "")
    db = context.runtime.db
    incident = await incidents.get(db, press[0]) if press else None
    place = gazetteer.by_id(press[1]) if press else None
    if (
        incident is None
        or place is None
        or incident.chat_id != actor.chat_id
        or not incident.is_open
    ):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if not may(actor.person, Action.UPDATE, incident):
        error = refusal(Action.UPDATE)
        await query.answer(plain(error_text((actor.own_language,), error)), show_alert=True)
        return
    try:
        incident = await incidents.locate(
            db,
            ref=incident.ref,
            text=None if incident.location_text else place.name,
            lat=place.lat,
            lon=place.lon,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await query.answer(plain(error_text((actor.own_language,), error)), show_alert=True)
        return
    await query.answer(_("Location: {location}").format(location=place_label(place)))
    await _located(context, incident)
    if query.message is not None:
        await context.bot.edit_message_text(
            render_text(
                actor.languages,
                N_("✅ #{ref} located: {place}."),
                ref=incident.ref,
                place=place_line(place),
            ),
            chat_id=actor.chat_id,
            message_id=query.message.message_id,
        )
