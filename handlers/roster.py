"""/roster, /unit, /rollcall, the unit and roll-call buttons, and the daily roll-call job."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from zoneinfo import ZoneInfo

from telegram import Update

from bot.cluster import leases
from bot.core import vocabulary
from bot.core.db import utcnow
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import ChatKind, Country, OfferStatus, ResourceType
from bot.render.keyboards import (
    parse_rollcall_press,
    parse_unit_press,
    rollcall_keyboard,
    unit_keyboard,
)
from bot.render.roster import render_rollcall, render_roster, render_unit
from bot.resources import requests, units
from bot.runtime import Runtime
from handlers.context import RUNTIME_KEY, PContext
from handlers.requests import AnyApp


async def roster(update: Update, context: PContext) -> None:
    """/roster [type] [FR|BE]"""
    actor = context.actor
    settings = context.runtime.settings
    words = list(context.args or [])
    type_: ResourceType | None = None
    country: Country | None = None
    while words:
        found_country = vocabulary.parse_country(words[0])
        if found_country is not None and country is None:
            country = found_country
            words = words[1:]
            continue
        found_type, used = vocabulary.parse_type_words(words)
        if found_type is None or type_ is not None:
            raise UserError(
                N_("I do not know the resource type {type}. Types: {types}."),
                type=words[0],
                types=[Term(label) for label in vocabulary.TYPE.values()],
            )
        type_ = found_type
        words = words[used:]
    db = context.runtime.db

    async def listing() -> str:
        # the whole roster may be thousands of units: read apart, rendered in a thread
        async with db.read_apart() as tx:
            found = await units.roster_in(tx, type_, country)
        return await asyncio.to_thread(
            render_roster,
            found,
            type_,
            country,
            actor.languages,
            actor.timezone,
            utcnow(),
            settings.roster.stale_after_hours,
        )

    context.answer(listing)


_UNIT_USAGE = N_(
    "Usage: /unit <code> [available|unavailable|maintenance|en route|on scene] [note],"
    " /unit <code> free <n>[/<total>] (beds, places), /unit <code> recall <reason>"
)
# the words that take a committed unit back, and that report a facility's free places
_RECALL_WORDS = {"recall", "rappel", "rappeler", "terugroepen", "terugroeping"}
_FREE_WORDS = {"free", "libre", "libres", "places", "vrij", "vrije", "plaatsen"}
_REF = re.compile(r"^#\d{1,9}$")
_COUNT = re.compile(r"^(\d{1,6})(?:/(\d{1,6}))?$")


async def unit(update: Update, context: PContext) -> None:
    """/unit <code> [available|unavailable|maintenance|en route|on scene] [note]"""
    actor = context.actor
    work = context.unit
    words = list(context.args or [])
    stale = context.runtime.settings.roster.stale_after_hours
    if not words:
        raise UserError(_UNIT_USAGE)
    code = words[0]
    if len(words) == 1:
        found = await units.unit_in(work, code)
        if found is None:
            raise UserError(N_("There is no unit {code} in the roster."), code=code)
        keyboard = (
            unit_keyboard(found, actor.languages)
            if units.may_manage(actor.person, actor.chat, found.agency)
            else None
        )
        context.answer(
            render_unit(found, actor.languages, actor.timezone, utcnow(), stale), markup=keyboard
        )
        return
    recall_ref = None
    if len(words) > 2 and _REF.match(words[1]):
        # /unit <code> #12 recall <reason>: a facility holding places for several incidents
        recall_ref, words = int(words[1].lstrip("#")), [words[0], *words[2:]]
    verb = vocabulary.fold(words[1])
    if recall_ref is not None and verb not in _RECALL_WORDS:
        raise UserError(_UNIT_USAGE)
    if verb in _RECALL_WORDS:
        result = await requests.recall(
            work,
            code=code,
            ref=recall_ref,
            reason=" ".join(words[2:]),
            person=actor.person,
            chat=actor.chat,
            settings=context.runtime.settings.requests,
        )
        if result.refusal is not None:
            raise UserError(result.refusal, code=result.offer.unit.code)
        context.say(
            N_("↩️ {code} is recalled from #{ref}: the commander is told."),
            code=result.offer.unit.code,
            ref=result.incident.ref,
        )
        return
    if verb in _FREE_WORDS:
        match = _COUNT.match(words[2]) if len(words) == 3 else None
        if match is None:
            raise UserError(N_("Usage: /unit <code> free <n>[/<total>], for example 4/6"))
        total = int(match.group(2)) if match.group(2) else None
        reported = await units.report_by_hand(
            work,
            code=code,
            free=int(match.group(1)),
            total=total,
            person=actor.person,
            chat=actor.chat,
        )
        context.say(
            N_("✅ {code}: {free} / {total} free."),
            code=reported.code,
            free=reported.free or 0,
            total=reported.capacity,
        )
        return
    status, used = vocabulary.parse_status_words(words[1:])
    if status is None:
        raise UserError(_UNIT_USAGE)
    note = " ".join(words[1 + used :]).strip() or None
    if isinstance(status, OfferStatus):
        result = await requests.advance(
            work, code=code, to=status, person=actor.person, chat=actor.chat
        )
        if result.refusal is not None:
            raise UserError(result.refusal)
        changed = result.offer.unit.code
        label = vocabulary.OFFER_STATUS[status]
    else:
        updated = await units.set_status(
            work, code=code, status=status, note=note, person=actor.person, chat=actor.chat
        )
        changed = updated.code
        label = vocabulary.UNIT_STATUS[updated.status]
    context.say(N_("✅ {code}: {status}."), code=changed, status=Term(label))


async def unit_button(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = context.own()
    press = parse_unit_press(query.data or "")
    if press is None:
        raise UserError(N_("This button is no longer valid."))
    unit_id, status = press
    changed = await units.set_status_by_id(
        context.unit, unit_id=unit_id, status=status, person=actor.person, chat=actor.chat
    )
    context.toast(f"{changed.code}: {_(vocabulary.UNIT_STATUS[changed.status])}")
    context.edit_pressed(
        render_unit(
            changed,
            actor.languages,
            actor.timezone,
            utcnow(),
            context.runtime.settings.roster.stale_after_hours,
        ),
        unit_keyboard(changed, actor.languages),
    )


def _agency_of(context: PContext) -> str:
    chat = context.actor.chat
    if chat is None or chat.kind is not ChatKind.AGENCY or not chat.agency:
        raise UserError(N_("The roll-call works in an agency's own chat."))
    return chat.agency


async def rollcall(update: Update, context: PContext) -> None:
    """/rollcall: the roll-call now, in this agency chat."""
    actor = context.actor
    agency = _agency_of(context)
    found = await units.agency_units_in(context.unit, agency)
    if not found:
        raise UserError(N_("The roster has no unit of {agency}."), agency=agency)
    html = render_rollcall(
        agency,
        found,
        actor.languages,
        actor.timezone,
        utcnow(),
        context.runtime.settings.roster.stale_after_hours,
    )
    context.answer(html, markup=rollcall_keyboard(found, actor.languages))


async def rollcall_button(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = context.own()
    press = parse_rollcall_press(query.data or "")
    if press is None:
        raise UserError(N_("This button is no longer valid."))
    agency = _agency_of(context)
    found = await units.confirm(
        context.unit, agency=agency, unit_id=press[1], person=actor.person, chat=actor.chat
    )
    context.toast(_("Confirmed. Thank you."))
    html = render_rollcall(
        agency,
        found,
        actor.languages,
        actor.timezone,
        utcnow(),
        context.runtime.settings.roster.stale_after_hours,
    )
    context.edit_pressed(html, rollcall_keyboard(found, actor.languages))


# a day's roll-call claimed by the instance that sends it, kept as long (bot.cluster.leases)
ROLLCALL_CLAIM = dt.timedelta(days=2)


async def rollcall_job(context: PContext) -> None:
    """The daily roll-call, through the outbox to every agency chat. Every instance runs this
    job; the day's claim, in the roll-call's own unit of work, makes one of them send it (and
    another, if that one died before it committed)."""
    runtime = context.runtime
    day = utcnow().astimezone(ZoneInfo(runtime.settings.i18n.timezone)).date().isoformat()
    async with runtime.unit() as work:
        claim = f"job:rollcall:{day}"
        # held by this process (its leases' holder), in the database's time
        holder = runtime.leases.holder if runtime.leases is not None else runtime.instance
        now = work.now()
        if not await leases.take(work, claim, holder, now + ROLLCALL_CLAIM, now):
            return
        await units.rollcall(
            work, stale_after_hours=runtime.settings.roster.stale_after_hours, day=day
        )


def schedule_rollcall(application: AnyApp) -> None:
    """The daily roll-call at [roster] rollcall_time, in the configured time zone."""
    runtime: Runtime = application.bot_data[RUNTIME_KEY]
    at = runtime.settings.roster.rollcall_time
    if not at or application.job_queue is None:
        return
    hour, minute = (int(part) for part in at.split(":"))
    zone = ZoneInfo(runtime.settings.i18n.timezone)
    application.job_queue.run_daily(
        rollcall_job, time=dt.time(hour, minute, tzinfo=zone), name="rollcall"
    )
