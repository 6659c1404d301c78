"""Place names typed by people: `/set location Tournai`, `/incident Feu à Comines`. A name the
gazetteer knows gives the incident its coordinates; a name several places share is asked
about with buttons; anything else stays a free-text location."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Incident, IncidentField, Place
from bot.core.policy import Action, may
from bot.geo import gazetteer
from bot.geo.distance import distance_km
from bot.incidents import service as incidents
from bot.lifecycle import locating
from bot.render.common import text
from bot.render.keyboards import parse_place_press
from bot.render.places import choice_keyboard, place_label, place_line
from handlers.context import PContext, render_text
from handlers.targeting import refusal


def ask_which(context: PContext, ref: int, name: str, found: list[Place]) -> None:
    html = render_text(
        context.actor.languages,
        N_("📍 Which {name} do you mean, for #{ref}? Choose below."),
        name=text(name),
        ref=ref,
    )
    context.answer(html, markup=choice_keyboard(ref, found))


# A named place this close to the incident's coordinates is where they already are.
SAME_PLACE_KM = 10.0


def _already_there(incident: Incident, places: list[Place]) -> bool:
    if incident.lat is None or incident.lon is None:
        return False
    return any(
        distance_km(incident.lat, incident.lon, p.lat, p.lon) <= SAME_PLACE_KM for p in places
    )


async def locate_at(context: PContext, ref: int, place: Place, text: str | None = None) -> Incident:
    """The incident at a named place: its coordinates, and as the location's text `text`, or
    the place's name when the incident has no text yet."""
    actor = context.actor
    return await locating.locate(
        context.unit,
        ref=ref,
        lat=place.lat,
        lon=place.lon,
        text=text if text is not None else place.name,
        keep_text=text is None,
        author=actor.author,
        chat_id=actor.chat_id,
        settings=context.runtime.settings.requests,
    )


async def set_location(context: PContext, incident: Incident, value: str) -> None:
    """/set location <text>: coordinates when the text names a known place."""
    actor = context.actor
    unit = context.unit
    found = gazetteer.find_in_text(value)
    if found is not None and _already_there(incident, found[1]):
        # a shared location is more precise than a town's centre: keep it, change the text
        found = None
        precise = True
    else:
        precise = False
    if found is not None and len(found[1]) == 1:
        incident = await locate_at(context, incident.ref, found[1][0], text=value)
    else:
        incident = await incidents.change_text(
            unit,
            ref=incident.ref,
            field=IncidentField.LOCATION,
            value=value,
            author=actor.author,
            chat_id=actor.chat_id,
        )
    if precise:
        context.say(N_("✅ #{ref} updated."), ref=incident.ref)
    elif found is None:
        context.say(
            N_(
                "✅ #{ref} updated. I know no town by that name, so there are no coordinates "
                "yet: name a town, or share a location as a reply to the card."
            ),
            ref=incident.ref,
        )
    elif len(found[1]) == 1:
        context.say(
            N_("✅ #{ref} located: {place}."), ref=incident.ref, place=place_line(found[1][0])
        )
    else:
        ask_which(context, incident.ref, found[0], found[1])


async def after_declare(context: PContext, incident: Incident) -> None:
    """`/incident Feu d'entrepôt à Comines`: the title names a place; locate it, or ask."""
    found = gazetteer.find_in_text(incident.title, marked_only=True)
    if found is None:
        return
    name, places = found
    if len(places) > 1:
        ask_which(context, incident.ref, name, places)
        return
    await locate_at(context, incident.ref, places[0])


async def place_button(update: Update, context: PContext) -> None:
    """A choice among places that share a name. Checked again: old, forwarded or forged."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    unit = context.unit
    _ = context.own()
    press = parse_place_press(query.data or "")
    incident = await incidents.incident_in(unit, press[0]) if press else None
    place = gazetteer.by_id(press[1]) if press else None
    if (
        incident is None
        or place is None
        or incident.chat_id != actor.chat_id
        or not incident.is_open
    ):
        raise UserError(N_("This button is no longer valid."))
    if not may(actor.person, Action.UPDATE, incident):
        raise refusal(Action.UPDATE)
    incident = await locate_at(context, incident.ref, place)
    context.toast(_("Location: {location}").format(location=place_label(place)))
    context.edit_pressed(
        render_text(
            actor.languages,
            N_("✅ #{ref} located: {place}."),
            ref=incident.ref,
            place=place_line(place),
        )
    )
