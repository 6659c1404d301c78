"""Declaring incidents, the timeline (/log, shared locations), changes and the card's buttons.
Each handler turns the update into plain values and calls one service in the update's unit of
work; the card is refreshed once it commits."""

from __future__ import annotations

from telegram import Message, MessageEntity, Update

from bot.core import vocabulary as labels
from bot.core.directory import find_by_username
from bot.core.errors import AnyOf, Term, UserError
from bot.core.i18n import N_
from bot.core.models import Assignment, Author, ChatKind, IncidentField, IncidentStatus
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.lifecycle import closing, locating
from bot.render.common import text
from bot.render.keyboards import parse_card_press
from handlers import places
from handlers.context import PContext
from handlers.targeting import refusal, target


def command_text(message: Message) -> str:
    """Everything after `/command` (or `/command@bot`), as typed, newlines kept."""
    raw = message.text or ""
    parts = raw.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def declare(update: Update, context: PContext) -> None:
    await _declare(update, context, exercise=False)


async def declare_exercise(update: Update, context: PContext) -> None:
    await _declare(update, context, exercise=True)


async def _declare(update: Update, context: PContext, *, exercise: bool) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    if actor.chat is None or actor.chat.kind is not ChatKind.OPERATIONS:
        raise UserError(N_("Incidents are declared in an operations group."))
    if not may(actor.person, Action.DECLARE):
        raise refusal(Action.DECLARE)
    title = command_text(message)
    if not title:
        raise UserError(
            N_("Give the incident a title, for example: {example}"),
            example=Term(N_("/incident Chlorine leak, Tournai station")),
        )
    incident = await incidents.declare(
        context.unit, chat=actor.chat, title=title, author=actor.author, exercise=exercise
    )
    # the card is the answer: the live-message publisher posts and pins it
    await places.after_declare(context, incident)


async def log_note(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    incident, _ = await target(context, (context.args or [])[:1], Action.LOG)
    words = command_text(message)
    if words.startswith(f"#{incident.ref}"):
        words = words[len(f"#{incident.ref}") :].strip()
    if not words:
        raise UserError(
            N_("Write what happened after /log, for example: {example}"),
            example=Term(N_("/log 2 casualties evacuated")),
        )
    incident = await incidents.add_note(
        context.unit,
        ref=incident.ref,
        text=words,
        author=actor.author,
        chat_id=actor.chat_id,
        message_id=message.message_id,
    )
    context.say(N_("📝 Added to the timeline of #{ref}."), ref=incident.ref, about=incident.ref)


async def location(update: Update, context: PContext) -> None:
    """A location shared as a reply to the card (or to any bot message about an incident)."""
    actor = context.actor
    message = update.effective_message
    if message is None or message.location is None or actor.chat is None:
        return
    unit = context.unit
    link = (
        await incidents.message_link(unit, message.chat_id, message.reply_to_message.message_id)
        if message.reply_to_message is not None
        else None
    )
    if link is None:
        if await incidents.latest_open_in(unit, actor.chat_id) is not None:
            context.say(
                N_("To add a location to an incident, share it as a reply to the incident card.")
            )
        return
    await locating.locate(
        unit,
        ref=link.incident_ref,
        lat=message.location.latitude,
        lon=message.location.longitude,
        author=actor.author,
        chat_id=actor.chat_id,
        message_id=message.message_id,
        settings=context.runtime.settings.requests,
    )


async def set_field(update: Update, context: PContext) -> None:
    actor = context.actor
    unit = context.unit
    incident, words = await target(context, list(context.args or []), Action.UPDATE)
    if not words:
        raise UserError(N_("Usage: /set [#ref] title|type|severity|status|location <value>"))
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
    if field is IncidentField.SEVERITY:
        severity = labels.parse(value, labels.SEVERITY)
        if severity is None:
            raise UserError(
                N_("Severity is one of: {values}."),
                values=AnyOf(Term(v) for v in labels.SEVERITY.values()),
            )
        incident = await incidents.change_severity(
            unit, ref=incident.ref, severity=severity, author=actor.author, chat_id=actor.chat_id
        )
    elif field is IncidentField.STATUS:
        status = labels.parse(value, labels.STATUS)
        if status is None:
            raise UserError(
                N_("Status is one of: {values}."),
                values=AnyOf(Term(v) for v in labels.STATUS.values()),
            )
        if status is IncidentStatus.CLOSED and not may(actor.person, Action.CLOSE, incident):
            raise refusal(Action.CLOSE)
        incident = await closing.change_status(
            unit, ref=incident.ref, status=status, author=actor.author, chat_id=actor.chat_id
        )
    elif field is IncidentField.LOCATION:
        await places.set_location(context, incident, value)
        return
    else:
        incident = await incidents.change_text(
            unit,
            ref=incident.ref,
            field=field,
            value=value,
            author=actor.author,
            chat_id=actor.chat_id,
        )
    context.say(N_("✅ #{ref} updated."), ref=incident.ref)


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
    unit = context.unit
    incident, words = await target(context, list(context.args or []), Action.ASSIGN)
    assignment = labels.parse(words[0], labels.ASSIGNMENT) if words else None
    if assignment is None:
        raise UserError(
            N_(
                "Usage: /assign [#ref] commander|spokesperson|liaison, as a reply to "
                "the person's message or with their @username."
            )
        )
    assignee, username = _assignee(message, words[1:])
    if assignee is None and username is not None:
        person = await find_by_username(unit, username)
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
        unit,
        ref=incident.ref,
        assignment=Assignment(assignment),
        assignee=assignee,
        author=actor.author,
        chat_id=actor.chat_id,
    )
    context.say(
        N_("✅ {name} is now {role} for #{ref}."),
        name=text(assignee.name),
        role=Term(labels.ASSIGNMENT[assignment]),
        ref=incident.ref,
    )


async def close(update: Update, context: PContext) -> None:
    actor = context.actor
    incident, _ = await target(context, list(context.args or []), Action.CLOSE)
    incident = await closing.close(
        context.unit, ref=incident.ref, author=actor.author, chat_id=actor.chat_id
    )
    context.say(N_("✅ Incident #{ref} is closed."), ref=incident.ref)


async def card_button(update: Update, context: PContext) -> None:
    """A status or severity button. Checked again from scratch: the button may be old,
    forwarded or forged."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    unit = context.unit
    _ = context.own()
    press = parse_card_press(query.data or "")
    incident = await incidents.incident_in(unit, press.ref) if press else None
    if press is None or incident is None or incident.chat_id != actor.chat_id:
        raise UserError(N_("This button is no longer valid."))
    action = Action.CLOSE if press.status is IncidentStatus.CLOSED else Action.UPDATE
    if not may(actor.person, action, incident):
        raise refusal(action)
    if press.status is not None:
        await closing.change_status(
            unit, ref=incident.ref, status=press.status, author=actor.author, chat_id=actor.chat_id
        )
        context.toast(_("Status: {status}").format(status=_(labels.STATUS[press.status])))
    elif press.severity is not None:
        await incidents.change_severity(
            unit,
            ref=incident.ref,
            severity=press.severity,
            author=actor.author,
            chat_id=actor.chat_id,
        )
        context.toast(_("Severity: {severity}").format(severity=_(labels.SEVERITY[press.severity])))
