"""Declaring incidents, the timeline (replies, locations, /log), changes and the card's
buttons. Each handler turns the update into plain values and calls one service."""

from __future__ import annotations

from typing import Any

from telegram import Message, MessageEntity, Update

from bot.core import vocabulary as labels
from bot.core.directory import find_by_username
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import Assignment, Author, ChatKind, Incident, IncidentField, IncidentStatus
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.common import text
from bot.render.keyboards import parse_card_press
from handlers import places, reports
from handlers.context import PContext, error_text, own, plain, refuse, say
from handlers.targeting import refusal, target


def command_text(message: Message) -> str:
    """Everything after `/command` (or `/command@bot`), as typed, newlines kept."""
    raw = message.text or ""
    parts = raw.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def _changed(context: PContext, incident: Incident) -> None:
    await context.runtime.cards.touch_incident(incident.ref)


async def declare(update: Update, context: PContext) -> None:
    await _declare(update, context, exercise=False)


async def declare_exercise(update: Update, context: PContext) -> None:
    await _declare(update, context, exercise=True)


async def _declare(update: Update, context: PContext, *, exercise: bool) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    try:
        if actor.chat is None or actor.chat.kind is not ChatKind.OPERATIONS:
            raise UserError(N_("Incidents are declared in an operations group."))
        if not may(actor.person, Action.DECLARE):
            raise refusal(Action.DECLARE)
        title = command_text(message)
        if not title:
            raise UserError(
                N_("Give the incident a title, for example: {example}"),
                example="/incident Fuite de chlore, gare de Tournai",
            )
        incident = await incidents.declare(
            context.runtime.db,
            chat=actor.chat,
            title=title,
            author=actor.author,
            exercise=exercise,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    # the card is the answer: the publisher posts and pins it
    await _changed(context, incident)
    await places.after_declare(update, context, incident)


async def log_note(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    try:
        incident, _ = await target(context, (context.args or [])[:1], Action.LOG)
        words = command_text(message)
        if words.startswith(f"#{incident.ref}"):
            words = words[len(f"#{incident.ref}") :].strip()
        if not words:
            raise UserError(
                N_("Write what happened after /log, for example: {example}"),
                example="/log 2 victimes évacuées",
            )
        incident = await incidents.add_note(
            context.runtime.db,
            ref=incident.ref,
            text=words,
            author=actor.author,
            chat_id=actor.chat_id,
            message_id=message.message_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await _changed(context, incident)
    sent = await say(update, context, N_("📝 Added to the timeline of #{ref}."), ref=incident.ref)
    if sent is not None:
        await incidents.remember_message(
            context.runtime.db, sent.chat_id, sent.message_id, incident.ref
        )


async def _replied_incident(update: Update, context: PContext) -> int | None:
    message = update.effective_message
    if message is None or message.reply_to_message is None:
        return None
    return await incidents.incident_of_message(
        context.runtime.db, message.chat_id, message.reply_to_message.message_id
    )


async def reply_note(update: Update, context: PContext) -> None:
    """A reply to the card or to any bot message about an incident joins its timeline;
    other chatter is not stored."""
    actor = context.actor
    message = update.effective_message
    ref = await _replied_incident(update, context)
    if message is None or ref is None or actor.chat is None:
        return
    try:
        incident = await incidents.add_note(
            context.runtime.db,
            ref=ref,
            text=message.text or message.caption or "",
            author=actor.author,
            chat_id=actor.chat_id,
            message_id=message.message_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await _changed(context, incident)


async def location(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    if message is None or message.location is None or actor.chat is None:
        return
    ref = await _replied_incident(update, context)
    if ref is None:
        if await incidents.latest_open(context.runtime.db, actor.chat_id) is not None:
            await say(
                update,
                context,
                N_("To add a location to an incident, share it as a reply to the incident card."),
            )
        return
    try:
        incident = await incidents.add_location(
            context.runtime.db,
            ref=ref,
            lat=message.location.latitude,
            lon=message.location.longitude,
            author=actor.author,
            chat_id=actor.chat_id,
            message_id=message.message_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await _changed(context, incident)


async def set_field(update: Update, context: PContext) -> None:
    actor = context.actor
    db = context.runtime.db
    try:
        incident, words = await target(context, list(context.args or []), Action.UPDATE)
        if not words:
            raise UserError(N_("Usage: /set title|type|severity|status|location <value>"))
        field = labels.parse(words[0], labels.FIELD)
        value = " ".join(words[1:])
        if field is None:
            raise UserError(
                N_("I do not know the field {field}. Fields: {fields}."),
                field=words[0],
                fields=[Term(f) for f in labels.FIELD.values()],
            )
        if not value:
            raise UserError(N_("Give the new value after the field's name."))
        common: dict[str, Any] = dict(
            ref=incident.ref, author=actor.author, chat_id=actor.chat_id, update_id=actor.update_id
        )
        if field is IncidentField.SEVERITY:
            severity = labels.parse(value, labels.SEVERITY)
            if severity is None:
                raise UserError(
                    N_("Severity is one of: {values}."),
                    values=[Term(v) for v in labels.SEVERITY.values()],
                )
            incident = await incidents.change_severity(db, severity=severity, **common)
        elif field is IncidentField.STATUS:
            status = labels.parse(value, labels.STATUS)
            if status is None:
                raise UserError(
                    N_("Status is one of: {values}."),
                    values=[Term(v) for v in labels.STATUS.values()],
                )
            if status is IncidentStatus.CLOSED and not may(actor.person, Action.CLOSE, incident):
                raise refusal(Action.CLOSE)
            incident = await incidents.change_status(db, status=status, **common)
        elif field is IncidentField.LOCATION:
            await places.set_location(update, context, incident, value)
            return
        else:
            incident = await incidents.change_text(db, field=field, value=value, **common)
    except UserError as error:
        await refuse(update, context, error)
        return
    await _changed(context, incident)
    if not incident.is_open:
        await reports.after_close(context, incident)
    await say(update, context, N_("✅ #{ref} updated."), ref=incident.ref)


def _assignee(message: Message, words: list[str]) -> tuple[Author | None, str | None]:
    """Whom /assign names: the author of the replied message, a text mention, or @username."""
    if message.reply_to_message and message.reply_to_message.from_user:
        user = message.reply_to_message.from_user
        if not user.is_bot:
            return Author(user.id, user.full_name, user.username), None
    for entity in message.entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user:
            user = entity.user
            return Author(user.id, user.full_name, user.username), None
    for word in words:
        if word.startswith("@") and len(word) > 1:
            return None, word[1:]
    return None, None


async def assign(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    db = context.runtime.db
    try:
        incident, words = await target(context, list(context.args or []), Action.ASSIGN)
        assignment = labels.parse(words[0], labels.ASSIGNMENT) if words else None
        if assignment is None:
            raise UserError(
                N_(
                    "Usage: /assign commander|spokesperson|liaison, as a reply to "
                    "the person's message or with their @username."
                )
            )
        assignee, username = _assignee(message, words[1:])
        if assignee is None and username is not None:
            person = await find_by_username(db, username)
            if person is None:
                raise UserError(
                    N_(
                        "I do not know @{username} yet: they must first write in a "
                        "registered chat, or you can reply to one of their "
                        "messages."
                    ),
                    username=username,
                )
            assignee = Author(person.id, person.name, person.username)
        if assignee is None:
            raise UserError(N_("Whom? Reply to the person's message or add their @username."))
        incident = await incidents.assign(
            db,
            ref=incident.ref,
            assignment=Assignment(assignment),
            assignee=assignee,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await _changed(context, incident)
    await say(
        update,
        context,
        N_("✅ {name} is now {role} for #{ref}."),
        name=text(assignee.name),
        role=Term(labels.ASSIGNMENT[assignment]),
        ref=incident.ref,
    )


async def close(update: Update, context: PContext) -> None:
    actor = context.actor
    try:
        incident, _ = await target(context, list(context.args or []), Action.CLOSE)
        incident = await incidents.close(
            context.runtime.db,
            ref=incident.ref,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await _changed(context, incident)
    await say(update, context, N_("✅ Incident #{ref} is closed."), ref=incident.ref)
    await reports.after_close(context, incident)


async def card_button(update: Update, context: PContext) -> None:
    """A status or severity button. Checked again from scratch: the button may be old,
    forwarded or forged."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = own(context)
    press = parse_card_press(query.data or "")
    db = context.runtime.db
    incident = await incidents.get(db, press.ref) if press else None
    if press is None or incident is None or incident.chat_id != actor.chat_id:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    action = Action.CLOSE if press.status is IncidentStatus.CLOSED else Action.UPDATE
    if not may(actor.person, action, incident):
        error = refusal(action)
        await query.answer(plain(error_text((actor.own_language,), error)), show_alert=True)
        return
    try:
        if press.status is not None:
            incident = await incidents.change_status(
                db,
                ref=incident.ref,
                status=press.status,
                author=actor.author,
                chat_id=actor.chat_id,
                update_id=actor.update_id,
            )
            toast = _("Status: {status}").format(status=_(labels.STATUS[press.status]))
        elif press.severity is not None:
            incident = await incidents.change_severity(
                db,
                ref=incident.ref,
                severity=press.severity,
                author=actor.author,
                chat_id=actor.chat_id,
                update_id=actor.update_id,
            )
            toast = _("Severity: {severity}").format(severity=_(labels.SEVERITY[press.severity]))
        else:
            return
    except UserError as error:
        await query.answer(plain(error_text((actor.own_language,), error)), show_alert=True)
        return
    await query.answer(toast)
    await _changed(context, incident)
    if not incident.is_open:
        await reports.after_close(context, incident)
