"""The one error handler: log it, tell the user something went wrong, keep running."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import NetworkError, TimedOut

from bot.core.i18n import N_, normalize_language
from handlers.context import PContext, render_text

log = logging.getLogger(__name__)


async def on_error(update: object, context: PContext) -> None:
    error = context.error
    if isinstance(error, (NetworkError, TimedOut)) and not isinstance(update, Update):
        # polling hiccups: PTB retries by itself
        log.warning("event=network_error error=%s", error)
        return
    log.error("event=handler_error update=%s", getattr(update, "update_id", None), exc_info=error)
    if isinstance(update, Update):
        await notify_failure(update, context)


async def notify_failure(update: Update, context: PContext) -> None:
    """Tell the user, in their language, that their request failed."""
    if update.effective_chat is None:
        return
    actor = context.known_actor
    if actor is not None:
        languages = actor.languages
    else:
        user = update.effective_user
        default = context.runtime.settings.i18n.default_language
        languages = (normalize_language(user.language_code if user else None, default),)
    html = render_text(
        languages,
        N_(
            "⚠️ Something went wrong with that. Check the incident card before you try again; "
            "if it happens again, tell an admin."
        ),
    )
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, html)
    except Exception:  # the chat may be unreachable: logging is all we can do
        log.warning("event=error_notice_failed chat=%s", update.effective_chat.id)
