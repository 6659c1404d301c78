"""Notices Passerelle sends on its own account."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import N_, each_language
from bot.render.common import text


def render_unreachable(chat_name: str, languages: Sequence[str]) -> str:
    """For the liaisons: a chat can no longer be reached (the bot was blocked or removed)."""
    return each_language(
        languages,
        lambda tr: (
            "📵 "
            + tr.gettext(
                N_(
                    "Passerelle can no longer write to the chat {chat}: the bot was blocked "
                    "or removed. Messages for it are held back until an admin adds the bot "
                    "again."
                )
            ).format(chat=f"<b>{text(chat_name)}</b>")
        ),
    )
