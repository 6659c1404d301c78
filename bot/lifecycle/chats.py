"""Notices Passerelle sends on its own account, through the outbox."""

from __future__ import annotations

from bot.core.db import Tx
from bot.core.directory import liaison_chats
from bot.core.i18n import N_, each_language
from bot.delivery.outbox import enqueue
from bot.render.common import text


async def chat_unreachable(tx: Tx, chat_id: int, error: str) -> None:
    """Tell every liaison chat that a chat can no longer be reached (blocked, removed)."""
    row = await tx.one("SELECT name FROM chats WHERE id = ?", (chat_id,))
    name = row["name"] if row else str(chat_id)
    for chat in await liaison_chats(tx):
        if chat.id == chat_id:
            continue
        html = each_language(
            chat.languages,
            lambda tr: (
                "📵 "
                + tr.gettext(
                    N_(
                        "Passerelle can no longer write to the chat {chat}: the bot was blocked "
                        "or removed. Messages for it are held back until an admin adds the bot "
                        "again."
                    )
                ).format(chat=f"<b>{text(name)}</b>")
            ),
        )
        await enqueue(
            tx,
            chat_id=chat.id,
            html=html,
            purpose="notice",
            key=f"unreachable:{chat_id}:{chat.id}:{error[:40]}",
        )
