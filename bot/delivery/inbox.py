"""Telegram learns that an update was received only once its effects are stored, and one slow
update does not hold back the others.

PTB's updater puts the updates it fetched into `Application.update_queue` and at once asks for
the next batch with a higher offset: Telegram then forgets the first batch, although the
application may not have handled it yet, and a crash at that moment loses those updates for
good. In webhook mode PTB answers 200 as soon as the update is queued, with the same effect.

Here:

- polling: every getUpdates goes through `ConfirmWhenHandled`, which sends Telegram the offset
  of the first update still in hand (fetched, not yet handled), never a higher one: Telegram
  forgets an update only once it and every update before it are handled, their effects
  committed. Fetching goes on meanwhile: the updates Telegram sends again that are already in
  hand are dropped from the answer, the new ones go to the application at once, and a slow
  update in one chat delays no other chat (handlers/ordering.py keeps each chat in order).
- webhook: `Inbox.put` returns, and so the webhook answers 200, only once that update is
  handled (`PassApplication.process_update` reports it).

An update that a crash interrupts is delivered again; its claim (bot.core.db) makes that
harmless.

An update whose unit of work the database connection failed under (`StorageLost`: the server
restarted, failed over, or cannot be reached) is not handled: it stays in hand, unconfirmed,
and `PassApplication` handles it again, at once and then less and less often (up to
STORAGE_RETRY_MAX seconds apart), until its unit commits or the application stops. The
user is told nothing meanwhile: the answer comes once it is stored. Handled again after a
commit whose answer was lost, the update finds its claim and stops: its effect is once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from telegram import Update
from telegram._utils.types import ODVInput
from telegram.ext import Application
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.core.db import StorageLost

log = logging.getLogger(__name__)

# While updates are in hand, Telegram is asked again this often for new ones (it answers at
# once, with the updates in hand, so no long poll is possible until they are handled)...
IN_HAND_POLL = 0.02
# ...unless this many are in hand: the application has work enough, and asking would only
# fetch them again. Then the next call waits until fewer are.
BACKLOG = 32
# An update whose unit of work lost its database connection is handled again after these
# many seconds, doubled each time up to STORAGE_RETRY_MAX.
STORAGE_RETRY_FIRST = 0.1
STORAGE_RETRY_MAX = 5.0


class Inbox(asyncio.Queue[object]):
    """The application's update queue, which knows which updates are in hand.

    `confirm_each`: `put` waits until that update was handled (webhook mode). Otherwise `put`
    returns at once and getUpdates confirms only what precedes the updates in hand."""

    def __init__(self, *, confirm_each: bool) -> None:
        super().__init__()
        self._confirm_each = confirm_each
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._in_hand: set[int] = set()
        self.progress = asyncio.Event()  # set whenever an update is handled

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            self._in_hand.add(item.update_id)
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

    def handled(self, update: object, *, stored: bool = True) -> None:
        """The application finished with this update (whatever the outcome). Not `stored`:
        it gave up on an update whose unit of work could not be stored (stopping while the
        database was lost): the webhook answers an error, and Telegram delivers it again."""
        if isinstance(update, Update):
            self._in_hand.discard(update.update_id)
            self.progress.set()
            for done in self._waiting.pop(update.update_id, []):
                if done.done():
                    continue
                if stored:
                    done.set_result(None)
                else:
                    done.set_exception(StorageLost(f"update {update.update_id} not stored"))

    def first_in_hand(self) -> int | None:
        """The lowest id of the updates fetched and not yet handled."""
        return min(self._in_hand) if self._in_hand else None

    @property
    def in_hand(self) -> int:
        return len(self._in_hand)


class PassApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, telling the inbox when each update is handled, and handling again
    an update that lost its database connection (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unstored: set[int] = set()  # ids of updates whose handling hit StorageLost

    async def process_update(self, update: object) -> None:
        stored = True
        try:
            delay = STORAGE_RETRY_FIRST
            while True:
                await super().process_update(update)
                if not (isinstance(update, Update) and update.update_id in self._unstored):
                    break
                self._unstored.discard(update.update_id)
                if not self.running:
                    # stopping: left unconfirmed, Telegram delivers it again
                    log.warning("event=update_not_stored update=%d", update.update_id)
                    stored = False
                    break
                first = delay == STORAGE_RETRY_FIRST
                log.log(
                    logging.INFO if first else logging.DEBUG,
                    "event=update_retry update=%d in=%.1fs",
                    update.update_id,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORAGE_RETRY_MAX)
        finally:
            if isinstance(self.update_queue, Inbox):
                self.update_queue.handled(update, stored=stored)

    async def process_error(
        self, update: object | None, error: Exception, *args: Any, **kwargs: Any
    ) -> bool:
        """A handler's error; StorageLost stops the update (no other handler, no error
        message to the user) and has it handled again."""
        if isinstance(error, StorageLost) and isinstance(update, Update):
            self._unstored.add(update.update_id)
            log.debug("event=update_unstored update=%d error=%s", update.update_id, error)
            return True
        return await super().process_error(update, error, *args, **kwargs)


def _with(request_data: RequestData, **values: object) -> RequestData:
    """The same getUpdates call with some parameters changed."""
    parameters = {**request_data.parameters, **values}
    return RequestData([RequestParameter.from_input(k, v) for k, v in parameters.items()])


class ConfirmWhenHandled(HTTPXRequest):
    """The request object of getUpdates: the offset it sends never confirms an update still in
    hand; the updates already in hand that Telegram sends again are dropped from its answer."""

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
        timeouts: dict[str, Any] = {
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            "connect_timeout": connect_timeout,
            "pool_timeout": pool_timeout,
        }
        asked = request_data.parameters if request_data is not None else {}
        wanted = asked.get("offset")  # all before it were handed to the application
        if request_data is None or not isinstance(wanted, int) or wanted <= 0:
            return await super().do_request(url, method, request_data, **timeouts)
        long_poll = bool(asked.get("timeout"))
        while True:
            while long_poll and self._inbox.in_hand >= BACKLOG:
                self._inbox.progress.clear()
                await self._inbox.progress.wait()
            first = self._inbox.first_in_hand()
            if first is None or first >= wanted:
                # nothing in hand: the offset asked for confirms only handled updates
                return await super().do_request(url, method, request_data, **timeouts)
            # confirm what precedes the first update in hand; ask for the rest at once
            status, body = await super().do_request(
                url, method, _with(request_data, offset=first, timeout=0), **timeouts
            )
            if status != 200:
                return status, body
            answer = json.loads(body)
            fresh = [u for u in answer.get("result", []) if u.get("update_id", -1) >= wanted]
            if fresh or not long_poll:
                answer["result"] = fresh
                return status, json.dumps(answer).encode("utf-8")
            # nothing new yet: ask again soon
            await asyncio.sleep(IN_HAND_POLL)
