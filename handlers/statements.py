"""/statement and the spokesperson's buttons: one voice to the media."""

from __future__ import annotations

from telegram import ForceReply, Update

from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import Incident, StatementStatus
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.common import text
from bot.render.keyboards import parse_statement_press
from bot.statements import service as statements
from handlers.context import PContext
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
    unit = context.unit
    raw = command_text(message)
    ref, _rest = split_ref(raw.split(maxsplit=1)[:1])
    if ref is not None:
        raw = raw.split(maxsplit=1)[1] if len(raw.split(maxsplit=1)) > 1 else ""
    incident = (
        await incidents.incident_in(unit, ref)
        if ref is not None
        else (
            await incidents.latest_open_in(unit, actor.chat_id) if actor.chat is not None else None
        )
    )
    if incident is None or (actor.chat is not None and incident.chat_id != actor.chat_id):
        raise UserError(
            N_("Name the incident, for example #12.")
            if ref is None
            else N_("There is no incident #{ref} here."),
            ref=ref,
        )
    is_spokesperson = bool(incident.spokesperson and incident.spokesperson.id == actor.person.id)
    if not is_spokesperson and not may(actor.person, Action.STATEMENT, incident):
        raise _not_yours(incident)
    if not raw:
        raise UserError(
            N_("Write the statement after /statement, for example: {example}"),
            example=Term(N_("/statement fr: … | nl: …")),
        )
    done = await statements.propose(
        unit,
        incident_ref=incident.ref,
        author=actor.author,
        origin_chat_id=actor.chat_id,
        texts=statements.parse_texts(raw),
    )
    if done.status == StatementStatus.PUBLISHED:
        context.say(N_("📰 Statement #{id} is published to the media chats."), id=done.id)
    else:
        spokesperson = done.incident.spokesperson
        context.say(
            N_("📝 Draft statement #{id} is with the spokesperson, {name}, for approval."),
            id=done.id,
            name=text(spokesperson.name if spokesperson else "—"),
        )


async def decision(update: Update, context: PContext) -> None:
    """Approve, Edit or Reject on a draft, pressed by the spokesperson in private."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = context.own()
    press = parse_statement_press(query.data or "")
    if press is None:
        raise UserError(N_("This button is no longer valid."))
    statement_id, version, choice = press
    if choice == "ed":
        await statements.check_edit(
            context.unit, statement_id=statement_id, version=version, person=actor.author
        )
        _ask_for_new_text(context, statement_id)
        return
    await statements.decide(
        context.unit,
        statement_id=statement_id,
        version=version,
        approve=choice == "ok",
        person=actor.author,
    )
    if choice == "ok":
        context.toast(_("Published."))
        result = "✅ " + _("Approved and published.")
    else:
        context.toast(_("Rejected."))
        result = "✖️ " + _("Rejected: nothing was published.")
    pressed = query.message
    if pressed is None:
        return
    bot = context.bot

    async def settle() -> None:
        # the draft keeps its text and loses its buttons: it cannot be pressed again
        await bot.edit_message_reply_markup(actor.chat_id, pressed.message_id)
        await bot.send_message(actor.chat_id, result, reply_to_message_id=pressed.message_id)

    context.unit.effects.then(settle)


def _ask_for_new_text(context: PContext, statement_id: int) -> None:
    """The spokesperson is asked to reply with the new text; the prompt is remembered so the
    reply is recognised."""
    actor = context.actor
    db = context.runtime.db
    bot = context.bot
    _ = context.own()
    prompt = _(
        "✏️ Reply to this message with the new text of statement #{id}. For several "
        "languages: fr: … | nl: …"
    ).format(id=statement_id)

    async def ask() -> None:
        sent = await bot.send_message(
            actor.chat_id, prompt, reply_markup=ForceReply(selective=True)
        )
        statements.remember_edit_prompt_later(db, statement_id, sent.message_id)

    context.unit.effects.then(ask)


async def edited_text(update: Update, context: PContext) -> None:
    """The spokesperson's reply to an edit prompt: the new text of the draft."""
    actor = context.actor
    message = update.effective_message
    if message is None or message.reply_to_message is None:
        return
    unit = context.unit
    statement_id = await statements.statement_of_prompt(
        unit, actor.person.id, message.reply_to_message.message_id
    )
    if statement_id is None:
        return
    await statements.edit(
        unit,
        statement_id=statement_id,
        texts=statements.parse_texts(message.text or ""),
        person=actor.author,
    )
    context.say(
        N_("✏️ New version of draft #{id} below: check it, then approve or reject it."),
        id=statement_id,
    )
