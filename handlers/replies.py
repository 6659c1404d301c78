"""A reply in a group to one of the bot's messages, routed by one lookup of what that message
is: an evaluation question (the reply is the evaluation's comment), or any other message about
an incident (the reply joins its timeline; in reply to a request card that waits for the
incident's location, a place name also gives it one). Other chatter is not stored."""

from __future__ import annotations

import html as html_module

from telegram import Update

from bot.core.i18n import N_
from bot.geo import gazetteer
from bot.incidents import service as incidents
from bot.reports import evaluations
from bot.resources import requests
from handlers import places
from handlers.context import PContext


async def reply(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    if message is None or message.reply_to_message is None or actor.chat is None:
        return
    unit = context.unit
    link = await incidents.message_link(unit, message.chat_id, message.reply_to_message.message_id)
    if link is None:
        return
    words = message.text or message.caption or ""
    if link.purpose == "evaluation" and link.subject_id is not None:
        if not message.text:
            return
        evaluation = await evaluations.comment(
            unit,
            evaluation_id=link.subject_id,
            text=message.text,
            author=actor.author,
            chat_id=actor.chat_id,
        )
        context.say(
            N_("✅ Thank you: your evaluation of #{ref} is recorded."),
            ref=evaluation.incident_ref,
        )
        return
    await incidents.add_note(
        unit,
        ref=link.incident_ref,
        text=words,
        author=actor.author,
        chat_id=actor.chat_id,
        message_id=message.message_id,
    )
    if (
        link.purpose == "request"
        and link.subject_id is not None
        and message.text
        and await requests.waiting_for_location_in(unit, link.subject_id)
    ):
        await _place_for_request(context, link.incident_ref, message.text.strip())


async def _place_for_request(context: PContext, ref: int, name: str) -> None:
    """A place name in reply to a request card that waits for the incident's location (the
    reply is on the timeline whatever the name; a name the gazetteer does not know, or that
    several places share, is answered)."""
    found = gazetteer.lookup(name)
    shown = html_module.escape(name[:80], quote=False)
    if len(found) > 1:
        context.say(
            N_("Several places are called {name}: add the country, for example {example}."),
            name=shown,
            example=html_module.escape(f"{name[:80]} BE", quote=False),
        )
        return
    if not found:
        context.say(
            N_(
                "I do not know the place {name}. Share a location as a reply to the request "
                "instead, or name a town (for example Tournai, Kortrijk, Lille)."
            ),
            name=shown,
        )
        return
    # the incident is open (the note was just added to it): locating it cannot be refused
    await places.locate_at(context, ref, found[0])
