"""/request, /release, /cancel, the offer buttons in agency chats, the location a waiting
request needs, and the offer time-outs (job queue)."""

from __future__ import annotations

import html as html_module
import logging
import re
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application

from bot.core import vocabulary
from bot.core.db import utcnow
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import OfferStatus, RequestStatus
from bot.core.policy import Action
from bot.geo import gazetteer
from bot.render.keyboards import offer_keyboard, parse_offer_press
from bot.render.requests import render_offer
from bot.resources import requests
from bot.resources.requests import Effects
from bot.runtime import Runtime
from handlers.context import RUNTIME_KEY, PContext, error_text, own, refuse, say
from handlers.targeting import target

log = logging.getLogger(__name__)

AnyApp = Application[Any, Any, Any, Any, Any, Any]


def _runtime(application: AnyApp) -> Runtime:
    runtime: Runtime = application.bot_data[RUNTIME_KEY]
    return runtime


async def apply(application: AnyApp, effects: Effects) -> None:
    """Refresh what changed, wake the outbox, and schedule the new offers' time-outs."""
    runtime = _runtime(application)
    for request_id in sorted(effects.requests):
        runtime.request_cards.touch(request_id)
    for ref in sorted(effects.incidents):
        await runtime.cards.touch_incident(ref)
    if effects.queued:
        runtime.outbox.wake()
    for moment in sorted(set(effects.expiries)):
        schedule_expiry(application, moment)


def schedule_expiry(application: AnyApp, moment: datetime) -> None:
    job_queue = application.job_queue
    if job_queue is None:
        log.error("event=no_job_queue: offer time-outs need python-telegram-bot[job-queue]")
        return
    delay = max(0.0, (moment - utcnow()).total_seconds()) + 0.2
    job_queue.run_once(expire_job, when=delay, name=f"offer-expiry:{moment.isoformat()}")


async def expire_job(context: PContext) -> None:
    runtime = context.runtime
    effects = await requests.expire_overdue(runtime.db, runtime.settings.requests)
    await apply(context.application, effects)


async def on_start(application: AnyApp) -> None:
    """After a restart: offers that timed out meanwhile move on now, the others when due;
    request cards left behind are brought up to date."""
    runtime = _runtime(application)
    for moment in await requests.pending_expiries(runtime.db):
        schedule_expiry(application, moment)
    await runtime.request_cards.catch_up()


# --- the commander's commands ---------------------------------------------------------------

_NUMBER = re.compile(r"^[Rr]?(\d{1,9})$")


def _type_refusal(word: str) -> UserError:
    return UserError(
        N_("I do not know the resource type {type}. Types: {types}."),
        type=word,
        types=[Term(label) for label in vocabulary.TYPE.values()],
    )


async def request(update: Update, context: PContext) -> None:
    """/request <qty> <type> [#ref] [note]"""
    actor = context.actor
    runtime = context.runtime
    try:
        incident, words = await target(context, list(context.args or []), Action.REQUEST)
        if not words:
            raise UserError(
                N_(
                    "Usage: /request [quantity] type [#ref] [note], "
                    "for example /request 2 ambulance"
                )
            )
        quantity = 1
        if words[0].isdigit():
            quantity = int(words[0])
            words = words[1:]
        type_, used = vocabulary.parse_type_words(words)
        if type_ is None:
            raise _type_refusal(words[0] if words else "")
        note = " ".join(words[used:]).strip() or None
        outcome = await requests.create(
            runtime.db,
            ref=incident.ref,
            type_=type_,
            quantity=quantity,
            note=note,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
            settings=runtime.settings.requests,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    # the request card is the answer: the publisher posts it here and keeps it current
    await apply(context.application, outcome.effects)


async def release(update: Update, context: PContext) -> None:
    """/release <code>"""
    actor = context.actor
    try:
        incident, words = await target(context, list(context.args or []), Action.REQUEST)
        if not words:
            raise UserError(N_("Usage: /release unit-code, for example /release BE-WAPI-AMB-3"))
        offer, effects = await requests.release(
            context.runtime.db,
            ref=incident.ref,
            code=words[0],
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await apply(context.application, effects)
    await say(
        update,
        context,
        N_("🔓 {code} is released from #{ref}: available again."),
        code=offer.unit.code,
        ref=incident.ref,
    )


async def cancel(update: Update, context: PContext) -> None:
    """/cancel [#ref] [request number]"""
    actor = context.actor
    try:
        incident, words = await target(context, list(context.args or []), Action.REQUEST)
        number = None
        if words:
            match = _NUMBER.match(words[0])
            if match is None:
                raise UserError(N_("Usage: /cancel [#ref] [request number]"))
            number = int(match.group(1))
        outcome = await requests.cancel(
            context.runtime.db,
            ref=incident.ref,
            request_id=number,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await apply(context.application, outcome.effects)
    await say(update, context, N_("➖ Request {number} is cancelled."), number=outcome.request.id)


# --- the agencies' buttons ------------------------------------------------------------------

_ADVANCE = {"e": OfferStatus.EN_ROUTE, "s": OfferStatus.ON_SCENE}
_TOASTS = {
    "c": N_("Committed. Thank you."),
    "d": N_("Declined: the next unit is asked."),
    "e": N_("En route."),
    "s": N_("On scene."),
}


def _toast(html: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))[:200]


async def offer_button(update: Update, context: PContext) -> None:
    """Commit, Decline, En route, On scene: checked again from scratch on every press."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    runtime = context.runtime
    _ = own(context)
    press = parse_offer_press(query.data or "")
    if press is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    offer_id, action = press
    try:
        if action in _ADVANCE:
            result = await requests.advance(
                runtime.db,
                offer_id=offer_id,
                to=_ADVANCE[action],
                person=actor.person,
                chat=actor.chat,
                update_id=actor.update_id,
            )
        else:
            result = await requests.answer(
                runtime.db,
                offer_id=offer_id,
                commit=action == "c",
                person=actor.person,
                chat=actor.chat,
                update_id=actor.update_id,
                settings=runtime.settings.requests,
            )
    except UserError as error:
        await query.answer(_toast(error_text((actor.own_language,), error)), show_alert=True)
        return
    if result.refusal is not None:
        await query.answer(
            "⛔ " + _(result.refusal).format(code=result.offer.unit.code), show_alert=True
        )
    else:
        await query.answer(_(_TOASTS[action]))
    await apply(context.application, result.effects)
    # the pressed message shows the offer as it is now
    markup = offer_keyboard(result.offer, actor.languages)
    try:
        await query.edit_message_text(
            render_offer(
                result.offer, result.request, result.incident, actor.languages, actor.timezone
            ),
            reply_markup=InlineKeyboardMarkup.de_json(markup, context.bot) if markup else None,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


# --- a waiting request gets its location ----------------------------------------------------


async def resume_waiting(update: Update, context: PContext) -> None:
    """Runs after every other handler: when an incident of this chat got a location (shared,
    /set location, a place button), the requests waiting for it go out; when one was closed
    (/close, the card's button), its requests end and its units are released."""
    actor = context.known_actor
    if actor is None or actor.chat is None:
        return
    message = update.effective_message
    # only what can locate or close an incident: a command, a location, a button
    if update.callback_query is None and not (
        message is not None
        and (message.location is not None or (message.text or "").startswith("/"))
    ):
        return
    runtime = context.runtime
    await apply(
        context.application,
        await requests.close_out(runtime.db, actor.chat_id, actor.person.name),
    )
    for ref in await requests.located_incidents_waiting(runtime.db, actor.chat_id):
        effects = await requests.located(
            runtime.db, ref=ref, settings=runtime.settings.requests, chat_id=actor.chat_id
        )
        await apply(context.application, effects)


async def after_reply(update: Update, context: PContext) -> None:
    """A place name in reply to a request card that waits for the incident's location."""
    actor = context.actor
    message = update.effective_message
    if message is None or message.reply_to_message is None or not message.text:
        return
    db = context.runtime.db
    waiting = await requests.request_of_message(
        db, message.chat_id, message.reply_to_message.message_id
    )
    if waiting is None or waiting.status is not RequestStatus.WAITING_LOCATION:
        return
    name = message.text.strip()
    found = gazetteer.lookup(name)
    if len(found) > 1:
        await say(
            update,
            context,
            N_("Several places are called {name}: add the country, for example {example}."),
            name=html_module.escape(name[:80], quote=False),
            example=html_module.escape(f"{name[:80]} BE", quote=False),
        )
        return
    place = found[0] if found else None
    if place is None:
        await say(
            update,
            context,
            N_(
                "I do not know the place {name}. Share a location as a reply to the request "
                "instead, or name a town (for example Tournai, Kortrijk, Lille)."
            ),
            name=html_module.escape(name[:80], quote=False),
        )
        return
    effects = await requests.located(
        db,
        ref=waiting.incident_ref,
        settings=context.runtime.settings.requests,
        place=place,
        author=actor.author,
        chat_id=actor.chat_id,
    )
    await apply(context.application, effects)
