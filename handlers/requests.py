"""/request, /release, /cancel, the offer buttons in agency chats, and the offer time-outs
(job queue)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.core import vocabulary
from bot.core.db import utcnow
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import OfferStatus
from bot.core.policy import Action
from bot.render.keyboards import RECALL_REASONS, offer_keyboard, parse_offer_press
from bot.render.requests import render_offer
from bot.resources import requests
from bot.runtime import Runtime
from handlers.context import RUNTIME_KEY, PContext
from handlers.targeting import target

log = logging.getLogger(__name__)

AnyApp = Application[Any, Any, Any, Any, Any, Any]


def _runtime(application: AnyApp) -> Runtime:
    runtime: Runtime = application.bot_data[RUNTIME_KEY]
    return runtime


def offer_timeouts(application: AnyApp) -> Any:
    """How the runtime schedules an offer's time-out: a job at that moment."""

    def schedule(moment: datetime) -> None:
        job_queue = application.job_queue
        if job_queue is None:
            log.error("event=no_job_queue: offer time-outs need python-telegram-bot[job-queue]")
            return
        delay = max(0.0, (moment - utcnow()).total_seconds()) + 0.2
        job_queue.run_once(expire_job, when=delay, name=f"offer-expiry:{moment.isoformat()}")

    return schedule


async def expire_job(context: PContext) -> None:
    runtime = context.runtime
    async with runtime.unit() as unit:
        await requests.expire_overdue(unit, runtime.settings.requests)


async def overdue_sweep(context: PContext) -> None:
    """Repeating job: offers overdue whose time-out job did not run (its instance died, or
    another instance made the offer): moved on now. Each offer is claimed by the change of its
    status, so whichever instance sweeps first does it, once."""
    runtime = context.runtime
    moments = await requests.pending_expiries(runtime.db)
    if moments and moments[0] <= utcnow():
        await expire_job(context)


async def on_start(application: AnyApp) -> None:
    """After a restart: offers that timed out meanwhile move on now, the others when due."""
    runtime = _runtime(application)
    assert runtime.schedule is not None
    for moment in await requests.pending_expiries(runtime.db):
        runtime.schedule(moment)


# --- the commander's commands ---------------------------------------------------------------

_NUMBER = re.compile(r"^[Rr]?(\d{1,9})$")


def _type_refusal(word: str) -> UserError:
    return UserError(
        N_("I do not know the resource type {type}. Types: {types}."),
        type=word,
        types=[Term(label) for label in vocabulary.TYPE.values()],
    )


async def request(update: Update, context: PContext) -> None:
    """/request [#ref] [quantity] <type> [note]"""
    actor = context.actor
    incident, words = await target(context, list(context.args or []), Action.REQUEST)
    if not words:
        raise UserError(
            N_("Usage: /request [#ref] [quantity] <type> [note], for example /request 2 ambulance")
        )
    quantity = 1
    if words[0].isdigit():
        quantity = int(words[0])
        words = words[1:]
    type_, used = vocabulary.parse_type_words(words)
    if type_ is None:
        raise _type_refusal(words[0] if words else "")
    note = " ".join(words[used:]).strip() or None
    # the request card is the answer: the live-message publisher posts it here
    await requests.create(
        context.unit,
        ref=incident.ref,
        type_=type_,
        quantity=quantity,
        note=note,
        author=actor.author,
        chat_id=actor.chat_id,
        settings=context.runtime.settings.requests,
    )


async def release(update: Update, context: PContext) -> None:
    """/release [#ref] <unit code>"""
    actor = context.actor
    incident, words = await target(context, list(context.args or []), Action.REQUEST)
    if not words:
        raise UserError(
            N_("Usage: /release [#ref] <unit code>, for example /release BE-WAPI-AMB-3")
        )
    offer = await requests.release(
        context.unit, ref=incident.ref, code=words[0], author=actor.author, chat_id=actor.chat_id
    )
    context.say(
        N_("🔓 {code} is released from #{ref}: available again."),
        code=offer.unit.code,
        ref=incident.ref,
    )


async def cancel(update: Update, context: PContext) -> None:
    """/cancel [#ref] [request number]"""
    actor = context.actor
    incident, words = await target(context, list(context.args or []), Action.REQUEST)
    number = None
    if words:
        match = _NUMBER.match(words[0])
        if match is None:
            raise UserError(N_("Usage: /cancel [#ref] [request number]"))
        number = int(match.group(1))
    cancelled = await requests.cancel(
        context.unit,
        ref=incident.ref,
        request_id=number,
        author=actor.author,
        chat_id=actor.chat_id,
    )
    context.say(N_("➖ Request {number} is cancelled."), number=cancelled.id)


# --- the agencies' buttons ------------------------------------------------------------------

_ADVANCE = {"e": OfferStatus.EN_ROUTE, "s": OfferStatus.ON_SCENE}
_TOASTS = {
    "c": N_("Committed. Thank you."),
    "d": N_("Declined: the next unit is asked."),
    "e": N_("En route."),
    "s": N_("On scene."),
    "r": N_("Why do you take it back? Choose a reason."),
    "k": N_("It stays committed."),
    "recalled": N_("Recalled: the commander is told."),
}


async def offer_button(update: Update, context: PContext) -> None:
    """Commit (a facility: the places asked, or fewer), Decline, En route, On scene, Recall:
    checked again from scratch on every press."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = context.own()
    press = parse_offer_press(query.data or "")
    if press is None:
        raise UserError(N_("This button is no longer valid."))
    offer_id, action = press
    recalling = False
    if action in _ADVANCE:
        result = await requests.advance(
            context.unit,
            offer_id=offer_id,
            to=_ADVANCE[action],
            person=actor.person,
            chat=actor.chat,
        )
    elif action in ("r", "k"):
        # the reasons to choose from (or back): nothing changes until one is pressed
        result = await requests.recall_choice(
            context.unit, offer_id=offer_id, person=actor.person, chat=actor.chat
        )
        recalling = action == "r" and result.refusal is None
    elif action in RECALL_REASONS:
        result = await requests.recall(
            context.unit,
            offer_id=offer_id,
            reason=RECALL_REASONS[action],
            person=actor.person,
            chat=actor.chat,
            settings=context.runtime.settings.requests,
        )
        action = "recalled"
    else:
        places = int(action[1:]) if action.startswith("c") and len(action) > 1 else None
        result = await requests.answer(
            context.unit,
            offer_id=offer_id,
            commit=action.startswith("c"),
            person=actor.person,
            chat=actor.chat,
            settings=context.runtime.settings.requests,
            places=places,
        )
        action = action[:1]
    if result.refusal is not None:
        context.toast(
            "⛔ " + _(result.refusal).format(code=result.offer.unit.code, count=result.offer.asked),
            alert=True,
        )
    else:
        context.toast(_(_TOASTS[action]))
    # the pressed message shows the offer as it is now
    context.edit_pressed(
        render_offer(
            result.offer, result.request, result.incident, actor.languages, actor.timezone
        ),
        offer_keyboard(result.offer, actor.languages, recalling=recalling),
    )
