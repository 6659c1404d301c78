"""After-action: the rating buttons of the evaluations asked when an incident closes (the
comment, a reply to the question, is handlers.replies'), and /report [#ref]: the after-action
report as an HTML document."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Incident
from bot.core.policy import Action, may
from bot.evidence import service as evidence
from bot.incidents import service as incidents
from bot.render.keyboards import parse_rating
from bot.render.report import render_report
from bot.reports import evaluations
from bot.reports import report as reports
from handlers.context import PContext, render_text
from handlers.targeting import refusal, split_ref


async def _incident_for_report(context: PContext, words: list[str]) -> Incident:
    """Like targeting, but a closed incident is what a report is usually about."""
    actor = context.actor
    unit = context.unit
    ref, _ = split_ref(words)
    incident: Incident | None
    if ref is not None:
        incident = await incidents.incident_in(unit, ref)
        if incident is None or (actor.chat is not None and incident.chat_id != actor.chat_id):
            raise UserError(N_("There is no incident #{ref} here."), ref=ref)
    elif actor.chat is not None:
        incident = await incidents.latest_in(unit, actor.chat_id)
        if incident is None:
            raise UserError(N_("There is no incident in this chat yet."))
    else:
        raise UserError(N_("Name the incident, for example #12."))
    if not may(actor.person, Action.REPORT, incident):
        raise refusal(Action.REPORT)
    return incident


async def report_command(update: Update, context: PContext) -> None:
    actor = context.actor
    incident = await _incident_for_report(context, list(context.args or []))
    db = context.runtime.db

    async def report_file() -> bytes:
        # a long read and a long rendering: apart from the loop, after the commit
        async with db.read_apart() as tx:
            report = await reports.collect_in(tx, incident.ref)
        assert report is not None
        report = await reports.with_thumbnails(report, evidence.folder(context.runtime.settings))
        html = await asyncio.to_thread(render_report, report, actor.languages, actor.timezone)
        return html.encode("utf-8")

    context.document(
        report_file,
        filename=f"passerelle-{incident.ref}-report.html",
        caption=render_text(
            actor.languages, N_("📄 After-action report of #{ref}"), ref=incident.ref
        ),
    )


async def rating_button(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = context.own()
    press = parse_rating(query.data or "")
    if press is None:
        raise UserError(N_("This button is no longer valid."))
    evaluation = await evaluations.rate(
        context.unit,
        evaluation_id=press[0],
        rating=press[1],
        author=actor.author,
        chat_id=actor.chat_id,
    )
    context.toast(_("Thank you: {rating}/5").format(rating=evaluation.rating))
    context.say(
        N_(
            "✅ Rated {rating}/5. Now reply to the question above with what went well and "
            "what to improve."
        ),
        rating=evaluation.rating,
    )
