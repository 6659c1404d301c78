"""Concurrent update handling that keeps each chat's order.

PTB handles updates one at a time by default, so a handler waiting on Telegram (an answer,
a card) holds up every other chat. `PerChatOrder` lets updates of different chats run at the
same time while the updates of one chat still run one after the other, in the order Telegram
gave them: a chat's timeline, its answers and its card see that chat's messages in order.
The database lock still serializes transactions; what overlaps is the waiting (HTTP calls,
the database thread).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def order_key(update: object) -> Hashable:
    """Updates with the same key run in order: the chat, else the user, else all together."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
    return ("other",)


class PerChatOrder(BaseUpdateProcessor):
    """Different chats concurrently (at most `max_concurrent_updates`), one chat in order.

    PTB creates the processing tasks in the order updates arrive and admits them through a
    FIFO semaphore before `do_process_update`, which queues each update behind the previous
    one of its chat without yielding first, so the queue order is the arrival order.
    """

    __slots__ = ("_tails",)

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = order_key(update)
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                try:
                    # shield: our own cancellation must not cancel the previous one's marker
                    await asyncio.shield(previous)
                except BaseException:
                    if inspect.iscoroutine(coroutine):
                        coroutine.close()  # never started: no "never awaited" warning
                    raise
            await coroutine
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
