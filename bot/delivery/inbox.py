"""Telegram learns that an update was received only once its effects are stored.

PTB's updater puts the updates it fetched into `Application.update_queue` and at once asks for
the next batch with a higher offset: Telegram then forgets the first batch, although the
application may not have handled it yet, and a crash at that moment loses those updates for
good. In webhook mode PTB answers 200 as soon as the update is queued, with the same effect.

Here:

- polling: the getUpdates request (`ConfirmWhenHandled`) first waits until every update
  handed to the application so far is handled (`Inbox.join`), so the higher offset that
  confirms them reaches Telegram only after their transactions committed. Updates of a batch
  are still handled concurrently (handlers/ordering.py).
- webhook: `Inbox.put` returns, and so the webhook answers 200, only once that update is
  handled (`PassApplication.process_update` reports it).

An update that a crash interrupts is delivered again; the gate and `Tx.claim_update` make
that harmless.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update
from telegram._utils.types import ODVInput
from telegram.ext import Application
from telegram.request import BaseRequest, HTTPXRequest, RequestData


class Inbox(asyncio.Queue[object]):
    """The application's update queue.

    `confirm_each`: `put` waits until that update was handled (webhook mode). Otherwise `put`
    returns at once and the poller waits with `join` before confirming.
    """

    def __init__(self, *, confirm_each: bool) -> None:
        super().__init__()
        self._confirm_each = confirm_each
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}

    async def put(self, item: object) -> None:
        if not (self._confirm_each and isinstance(item, Update)):
            await super().put(item)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(item.update_id, []).append(done)
        try:
            await super().put(item)
            await done
        finally:
            waiters = self._waiting.get(item.update_id, [])
            if done in waiters:
                waiters.remove(done)
            if not waiters:
                self._waiting.pop(item.update_id, None)

    def handled(self, update: object) -> None:
        """The application finished with this update (whatever the outcome)."""
        if isinstance(update, Update):
            for done in self._waiting.pop(update.update_id, []):
                if not done.done():
                    done.set_result(None)


class PassApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, telling the inbox when each update is handled."""

    async def process_update(self, update: object) -> None:
        try:
            await super().process_update(update)
        finally:
            if isinstance(self.update_queue, Inbox):
                self.update_queue.handled(update)


class ConfirmWhenHandled(HTTPXRequest):
    """The request object of getUpdates: its next call (whose offset confirms what was
    fetched) waits until the application handled everything it was given."""

    def __init__(self, inbox: Inbox, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._inbox = inbox

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await self._inbox.join()
        return await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
