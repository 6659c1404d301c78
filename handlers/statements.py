"""/statement and the spokesperson's buttons: one voice to the media."""

from __future__ import annotations

from telegram import ForceReply, Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Incident, StatementStatus
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.common import text
from bot.render.keyboards import parse_statement_press
from bot.statements import service as media
from handlers.context import PContext, error_text, own, plain, refuse, say
from handlers.incidents import command_text
from handlers.targeting import split_ref


def _not_yours(incident: Incident) -> UserError:
    name = incident.spokesperson.name if incident.spokesperson else "—"
    return UserError(
        N_(
            "Only the spokesperson of #{ref} ({name}) speaks to the media. "
            "Commanders and liaison officers can propose a draft."
        ),
        ref=incident.ref,
        name=name,
    )


async def statement(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    db = context.runtime.db
    try:
        raw = command_text(message)
        ref, _rest = split_ref(raw.split(maxsplit=1)[:1])
        if ref is not None:
            raw = raw.split(maxsplit=1)[1] if len(raw.split(maxsplit=1)) > 1 else ""
        incident = (
            await incidents.get(db, ref)
            if ref is not None
            else (
                await incidents.latest_open(db, actor.chat_id) if actor.chat is not None else None
            )
        )
        if incident is None or (actor.chat is not None and incident.chat_id != actor.chat_id):
            raise UserError(
                N_("Name the incident, for example #12.")
                if ref is None
                else N_("There is no incident #{ref} here."),
                ref=ref,
            )
        is_spokesperson = bool(
            incident.spokesperson and incident.spokesperson.id == actor.person.id
        )
        if not is_spokesperson and not may(actor.person, Action.STATEMENT, incident):
            raise _not_yours(incident)
        if not raw:
            raise UserError(
                N_("Write the statement after /statement, for example: {example}"),
                example="/statement fr: … | nl: …",
            )
        texts = media.parse_texts(raw)
        done = await media.propose(
            db,
            incident_ref=incident.ref,
            author=actor.author,
            origin_chat_id=actor.chat_id,
            texts=texts,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    context.runtime.outbox.wake()
    if done.status == StatementStatus.PUBLISHED:
        await context.runtime.cards.touch_incident(done.incident.ref)
        await say(
            update, context, N_("📰 Statement #{id} is published to the media chats."), id=done.id
        )
    else:
        spokesperson = done.incident.spokesperson
        await say(
            update,
            context,
            N_("📝 Draft statement #{id} is with the spokesperson, {name}, for approval."),
            id=done.id,
            name=text(spokesperson.name if spokesperson else "—"),
        )


async def decision(update: Update, context: PContext) -> None:
    """Approve, Edit or Reject on a draft, pressed by the spokesperson in private."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = own(context)
    press = parse_statement_press(query.data or "")
    if press is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    statement_id, version, choice = press
    db = context.runtime.db
    try:
        if choice == "ed":
            await media.start_edit(
                db, statement_id=statement_id, version=version, person=actor.author
            )
        else:
            done = await media.decide(
                db,
                statement_id=statement_id,
                version=version,
                approve=choice == "ok",
                person=actor.author,
                update_id=actor.update_id,
            )
    except UserError as error:
        await query.answer(plain(error_text((actor.own_language,), error)), show_alert=True)
        return
    if choice == "ed":
        await query.answer()
        prompt = await context.bot.send_message(
            actor.chat_id,
            _(
                "✏️ Reply to this message with the new text of statement #{id}. For several "
                "languages: fr: … | nl: …"
            ).format(id=statement_id),
            reply_markup=ForceReply(selective=True),
        )
        await media.remember_edit_prompt(db, statement_id, prompt.message_id)
        return
    context.runtime.outbox.wake()
    await context.runtime.cards.touch_incident(done.incident.ref)
    if choice == "ok":
        await query.answer(_("Published."))
        result = "✅ " + _("Approved and published.")
    else:
        await query.answer(_("Rejected."))
        result = "✖️ " + _("Rejected: nothing was published.")
    if query.message is not None:
        # the draft keeps its text and loses its buttons: it cannot be pressed again
        await context.bot.edit_message_reply_markup(actor.chat_id, query.message.message_id)
        await context.bot.send_message(
            actor.chat_id, result, reply_to_message_id=query.message.message_id
        )


async def edited_text(update: Update, context: PContext) -> None:
    """The spokesperson's reply to an edit prompt: the new text of the draft."""
    actor = context.actor
    message = update.effective_message
    if message is None or message.reply_to_message is None:
        return
    db = context.runtime.db
    statement_id = await media.statement_of_prompt(
        db, actor.person.id, message.reply_to_message.message_id
    )
    if statement_id is None:
        return
    try:
        await media.edit(
            db,
            statement_id=statement_id,
            texts=media.parse_texts(message.text or ""),
            person=actor.author,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    context.runtime.outbox.wake()
    await say(
        update,
        context,
        N_("✏️ New version of draft #{id} below: check it, then approve or reject it."),
        id=statement_id,
    )
