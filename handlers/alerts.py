"""/alert, /alerts, /cap and the Acknowledge button."""

from __future__ import annotations

import re

from telegram import Update

from bot.alerts import service as alerts
from bot.alerts.cap import build_cap
from bot.core import vocabulary as labels
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import ChatKind, Severity
from bot.core.policy import Action, may
from bot.incidents import service as incidents
from bot.render.alerts import render_alert_list
from bot.render.keyboards import parse_ack
from handlers.context import PContext, render_text
from handlers.incidents import command_text
from handlers.targeting import refusal

_REF = re.compile(r"^#(\d{1,9})$")


def _leading(raw: str) -> tuple[int | None, Severity | None, str]:
    """`/alert [#ref] [severity] text`: the optional words before the text, in any order."""
    ref: int | None = None
    severity: Severity | None = None
    rest = raw
    for _ in range(2):
        parts = rest.split(maxsplit=1)
        if not parts:
            break
        match = _REF.match(parts[0])
        if match and ref is None:
            ref = int(match.group(1))
        elif severity is None and (found := labels.parse(parts[0], labels.SEVERITY)):
            severity = found
        else:
            break
        rest = parts[1] if len(parts) > 1 else ""
    return ref, severity, rest


async def alert(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    runtime = context.runtime
    if not may(actor.person, Action.ALERT):
        raise refusal(Action.ALERT)
    ref, severity, rest = _leading(command_text(message))
    if not rest:
        raise UserError(
            N_("Write the alert after /alert, for example: {example}"),
            example=Term(N_("/alert severe Toxic cloud towards Mouscron, shelter in place")),
        )
    texts = alerts.parse_texts(rest)
    if ref is None and actor.chat is not None and actor.chat.kind is ChatKind.OPERATIONS:
        # typed in an incident's group: it is about that incident
        latest = await incidents.latest_open_in(context.unit, actor.chat_id)
        ref = latest.ref if latest else None
    # the tally is the answer: the live-message publisher posts it here and keeps it current
    await alerts.broadcast(
        context.unit,
        author=actor.author,
        origin_chat_id=actor.chat_id,
        severity=severity or Severity.SEVERE,
        texts=texts,
        incident_ref=ref,
        config=runtime.settings.alerts,
    )


async def list_alerts(update: Update, context: PContext) -> None:
    actor = context.actor
    if not may(actor.person, Action.VIEW_ALERTS):
        raise refusal(Action.VIEW_ALERTS)
    recent = await alerts.recent_in(context.unit)
    context.answer(render_alert_list(recent, actor.languages, actor.timezone))


async def cap(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.effective_message
    assert message is not None
    settings = context.runtime.settings
    if not may(actor.person, Action.ALERT):
        raise refusal(Action.ALERT)
    words = (context.args or [""])[0].lstrip("#")
    if not words.isdigit() or len(words) > 9:
        raise UserError(N_("Usage: /cap <alert number>, for example /cap 3."))
    tally = await alerts.tally_in(context.unit, int(words))
    if tally is None:
        raise UserError(N_("There is no alert #{id}."), id=int(words))
    document = build_cap(
        tally.alert,
        sender=settings.alerts.cap_sender,
        timezone=settings.i18n.timezone,
        radius_km=settings.alerts.cap_radius_km,
        default_language=settings.i18n.default_language,
    )

    async def cap_file() -> bytes:
        return document

    context.document(
        cap_file,
        filename=f"passerelle-alert-{tally.alert.id}.cap.xml",
        caption=render_text(
            actor.languages, N_("CAP 1.2 document of alert #{id}"), id=tally.alert.id
        ),
    )


async def acknowledge(update: Update, context: PContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.actor
    _ = context.own()
    alert_id = parse_ack(query.data or "")
    if alert_id is None:
        raise UserError(N_("This button is no longer valid."))
    await alerts.acknowledge(
        context.unit, alert_id=alert_id, chat_id=actor.chat_id, person=actor.author
    )
    context.toast(_("Acknowledged. Thank you."))


async def remind(context: PContext) -> None:
    """Repeating job: remind chats that have not acknowledged in time."""
    async with context.runtime.unit() as unit:
        await alerts.send_reminders(unit)
