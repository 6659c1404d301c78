"""After-action: evaluations asked when an incident closes (rating buttons, then a reply), and
/report [#ref]: the after-action report as an HTML document."""

from __future__ import annotations

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Incident
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.report import render_report
from bot.reports import evaluations
from bot.reports import report as reports
from handlers.context import PContext, error_text, own, plain, refuse, render_text, say
from handlers.targeting import refusal, split_ref


async def after_close(context: PContext, incident: Incident) -> None:
    """The commander and the agencies that crossed the border are asked how it went."""
    if await evaluations.ask(context.runtime.db, incident.ref):
        context.runtime.outbox.wake()


async def _incident_for_report(context: PContext, words: list[str]) -> Incident:
    """Like targeting, but a closed incident is what a report is usually about."""
    actor = context.actor
    db = context.runtime.db
    ref, _ = split_ref(words)
    incident: Incident | None
    if ref is not None:
        incident = await incidents.get(db, ref)
        if incident is None or (actor.chat is not None and incident.chat_id != actor.chat_id):
            raise UserError(N_("There is no incident #{ref} here."), ref=ref)
    elif actor.chat is not None:
        incident = await incidents.latest(db, actor.chat_id)
        if incident is None:
            raise UserError(N_("There is no incident in this chat yet."))
    else:
        raise UserError(N_("Name the incident, for example #12."))
    if not may(actor.person, Action.REPORT, incident):
        raise refusal(Action.REPORT)
    return incident


async def report_command(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    try:
        incident = await _incident_for_report(context, list(context.args or []))
        report = await reports.collect(context.runtime.db, incident.ref)
        assert report is not None
    except UserError as error:
        await refuse(update, context, error)
        return
    html = render_report(report, actor.languages, actor.timezone)
    caption = render_text(actor.languages, N_("📄 After-action report of #{ref}"), ref=incident.ref)
    await message.reply_document(
        html.encode("utf-8"),
        filename=f"passerelle-{incident.ref}-report.html",
        caption=caption[:1024],
        do_quote=False,
    )


async def rating_button(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = own(context)
    press = evaluations.parse_rating(query.data or "")
    if press is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    try:
        evaluation = await evaluations.rate(
            context.runtime.db,
            evaluation_id=press[0],
            rating=press[1],
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await query.answer(plain(error_text((actor.own_language,), error)), show_alert=True)
        return
    await query.answer(_("Thank you: {rating}/5").format(rating=evaluation.rating))
    await say(
        update,
        context,
        N_(
            "✅ Rated {rating}/5. Now reply to the question above with what went well and "
            "what to improve."
        ),
        rating=evaluation.rating,
    )


async def comment_reply(update: Update, context: PContext) -> None:
    """A reply to an evaluation question is its comment (handler group 2)."""
    actor = context.actor
    message = update.effective_message
    if message is None or message.reply_to_message is None or not message.text:
        return
    evaluation = await evaluations.of_message(
        context.runtime.db, message.chat_id, message.reply_to_message.message_id
    )
    if evaluation is None:
        return
    try:
        await evaluations.comment(
            context.runtime.db,
            evaluation_id=evaluation.id,
            text=message.text,
            author=actor.author,
            chat_id=actor.chat_id,
            update_id=actor.update_id,
        )
    except UserError as error:
        await refuse(update, context, error)
        return
    await say(
        update,
        context,
        N_("✅ Thank you: your evaluation of #{ref} is recorded."),
        ref=evaluation.incident_ref,
    )
