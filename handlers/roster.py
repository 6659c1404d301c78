"""/roster, /unit, /rollcall, the unit and roll-call buttons, and the daily roll-call job."""

from __future__ import annotations

import datetime as dt
import html as html_module
import re
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

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
from bot.resources import requests
from bot.resources import units as resources
from bot.runtime import Runtime
from handlers.context import RUNTIME_KEY, PContext, answer, error_text, own, refuse, say, send_html
from handlers.requests import AnyApp, apply


def _toast(html: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))[:200]


async def roster(update: Update, context: PContext) -> None:
    """/roster [type] [FR|BE]"""
    actor = context.actor
    runtime = context.runtime
    words = list(context.args or [])
    type_: ResourceType | None = None
    country: Country | None = None
    try:
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
    except UserError as error:
        await refuse(update, context, error)
        return
    units = await resources.roster(runtime.db, type_, country)
    html = render_roster(
        units,
        type_,
        country,
        actor.languages,
        actor.timezone,
        utcnow(),
        runtime.settings.roster.stale_after_hours,
    )
    await answer(update, context, html)


async def unit(update: Update, context: PContext) -> None:
    """/unit <code> [available|unavailable|maintenance|en route|on scene] [note]"""
    actor = context.actor
    runtime = context.runtime
    message = update.effective_message
    assert message is not None
    words = list(context.args or [])
    stale = runtime.settings.roster.stale_after_hours
    try:
        if not words:
            raise UserError(
                N_("Usage: /unit CODE [available|unavailable|maintenance|en route|on scene] [note]")
            )
        code = words[0]
        if len(words) == 1:
            found = await resources.get_unit(runtime.db, code)
            if found is None:
                raise UserError(N_("There is no unit {code} in the roster."), code=code)
            html = render_unit(found, actor.languages, actor.timezone, utcnow(), stale)
            keyboard = (
                unit_keyboard(found, actor.languages)
                if resources.may_manage(actor.person, actor.chat, found.agency)
                else None
            )
            await send_html(message, html, reply_markup=keyboard)
            return
        status, used = vocabulary.parse_status_words(words[1:])
        if status is None:
            raise UserError(
                N_("Usage: /unit CODE [available|unavailable|maintenance|en route|on scene] [note]")
            )
        note = " ".join(words[1 + used :]).strip() or None
        if isinstance(status, OfferStatus):
            result = await requests.advance(
                runtime.db,
                code=code,
                to=status,
                person=actor.person,
                chat=actor.chat,
                update_id=actor.update_id,
            )
            if result.refusal is not None:
                raise UserError(result.refusal)
            await apply(context.application, result.effects)
            changed = result.offer.unit.code
            label = vocabulary.OFFER_STATUS[status]
        else:
            updated = await resources.set_status(
                runtime.db,
                code=code,
                status=status,
                note=note,
                person=actor.person,
                chat=actor.chat,
                update_id=actor.update_id,
            )
            changed = updated.code
            label = vocabulary.UNIT_STATUS[updated.status]
    except UserError as error:
        await refuse(update, context, error)
        return
    await say(update, context, N_("✅ {code}: {status}."), code=changed, status=Term(label))


async def unit_button(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    runtime = context.runtime
    _ = own(context)
    press = parse_unit_press(query.data or "")
    if press is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    unit_id, status = press
    try:
        changed = await resources.set_status_by_id(
            runtime.db,
            unit_id=unit_id,
            status=status,
            person=actor.person,
            chat=actor.chat,
            update_id=actor.update_id,
        )
    except UserError as error:
        await query.answer(_toast(error_text((actor.own_language,), error)), show_alert=True)
        return
    await query.answer(f"{changed.code}: {_(vocabulary.UNIT_STATUS[changed.status])}")
    html = render_unit(
        changed,
        actor.languages,
        actor.timezone,
        utcnow(),
        runtime.settings.roster.stale_after_hours,
    )
    await _edit(query, html, unit_keyboard(changed, actor.languages))


async def _edit(query: CallbackQuery, html: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(html, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


def _agency_of(context: PContext) -> str:
    chat = context.actor.chat
    if chat is None or chat.kind is not ChatKind.AGENCY or not chat.agency:
        raise UserError(N_("The roll-call works in an agency's own chat."))
    return chat.agency


async def rollcall(update: Update, context: PContext) -> None:
    """/rollcall: the roll-call now, in this agency chat."""
    actor = context.actor
    runtime = context.runtime
    message = update.effective_message
    assert message is not None
    try:
        agency = _agency_of(context)
        units = await resources.agency_units(runtime.db, agency)
        if not units:
            raise UserError(N_("The roster has no unit of {agency}."), agency=agency)
    except UserError as error:
        await refuse(update, context, error)
        return
    html = render_rollcall(
        agency,
        units,
        actor.languages,
        actor.timezone,
        utcnow(),
        runtime.settings.roster.stale_after_hours,
    )
    markup = InlineKeyboardMarkup.de_json(rollcall_keyboard(units, actor.languages), context.bot)
    await send_html(message, html, reply_markup=markup)


async def rollcall_button(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    runtime = context.runtime
    _ = own(context)
    press = parse_rollcall_press(query.data or "")
    try:
        if press is None:
            raise UserError(N_("This button is no longer valid."))
        agency = _agency_of(context)
        units = await resources.confirm(
            runtime.db,
            agency=agency,
            unit_id=press[1],
            person=actor.person,
            chat=actor.chat,
            update_id=actor.update_id,
        )
    except UserError as error:
        await query.answer(_toast(error_text((actor.own_language,), error)), show_alert=True)
        return
    await query.answer(_("Confirmed. Thank you."))
    html = render_rollcall(
        agency,
        units,
        actor.languages,
        actor.timezone,
        utcnow(),
        runtime.settings.roster.stale_after_hours,
    )
    markup = InlineKeyboardMarkup.de_json(rollcall_keyboard(units, actor.languages), context.bot)
    await _edit(query, html, markup)


async def rollcall_job(context: PContext) -> None:
    """The daily roll-call, through the outbox to every agency chat."""
    runtime = context.runtime
    day = utcnow().astimezone(ZoneInfo(runtime.settings.i18n.timezone)).date().isoformat()
    sent = await resources.rollcall(
        runtime.db, stale_after_hours=runtime.settings.roster.stale_after_hours, day=day
    )
    if sent:
        runtime.outbox.wake()


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
