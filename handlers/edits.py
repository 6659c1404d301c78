"""A message edited by its author (Telegram's `edited_message`): if it is on a timeline (a note
given as a reply or with /log, a caption), the entry follows the new wording and keeps the
earlier one. An edit of any other message changes nothing and gets no answer."""

from __future__ import annotations

import re

from telegram import Update

from bot.incidents import service as incidents
from handlers.context import PContext

_COMMAND = re.compile(r"^/\S*\s*")
_REF = re.compile(r"^#\d{1,9}\b\s*")


def edited_words(raw: str) -> str:
    """The note in an edited message: a `/log [#ref]` command's words without the command."""
    if raw.startswith("/"):
        return _REF.sub("", _COMMAND.sub("", raw, count=1), count=1)
    return raw


async def edited(update: Update, context: PContext) -> None:
    actor = context.actor
    message = update.edited_message
    if message is None or actor.chat is None:
        return
    raw = message.text if message.text is not None else message.caption
    await incidents.follow_edit(
        context.unit,
        chat_id=actor.chat_id,
        message_id=message.message_id,
        author=actor.author,
        text=edited_words(raw) if raw is not None else None,
        edited_at=message.edit_date or message.date,
    )
