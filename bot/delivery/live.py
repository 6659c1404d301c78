"""Messages kept current in place: incident cards, request cards, alert tallies.

Each is a `Live` key (bot.core.effects). A change bumps its version in the change's unit of
work; once committed, `touch` asks for a refresh. The publisher coalesces refreshes
(bot.delivery.coalesce: at most one edit per message per interval, each showing the state as it
is then), reads what the message must show from its kind's view, edits it (or posts it when it
has none yet or is gone), and stores the version shown. Messages left behind by a crash are
found at start (`catch_up`).

One Telegram error policy for all of them: a 429 waits its `retry_after`; a 5xx or a time-out
is retried with backoff; "message is not modified" means it already shows this; a message that
is gone or can no longer be edited is posted again; a group upgraded to a supergroup is
followed (`on_migrated`) and the message posted there; a chat that blocked or removed the bot
is reported (`on_unreachable`), which tells the liaisons. A crash between posting and storing
the new message id posts it once more at the next start: at most one extra message per crash.

Several instances may be asked to refresh one message (each applies the effects of its own
units of work): a lease per message (`live:<kind>:<chat>:<subject>`, bot.cluster.leases) lets
one edit it at a time, and is kept `min_interval` after the edit, so the edits of one message
are coalesced across instances too. An instance that finds the lease taken tries again once it
may have run out: the last change is always shown (the holder may have read the state before
it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.cluster.leases import Leases
from bot.core.db import Database, Tx, UnitOfWork
from bot.core.effects import Live, LiveKind
from bot.delivery.coalesce import Coalescer
from bot.delivery.errors import message_gone, not_modified, seconds

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
# A message's lease while it is edited or posted (an instance that dies meanwhile holds it this
# long), and how soon an instance that found it taken tries again.
PUBLISH_SECONDS = 15.0
TAKEN_RETRY = 1.0


@dataclass(frozen=True)
class Shown:
    """What a live message must read now, and how far its message is behind."""

    message_id: int | None
    version: int
    shown_version: int
    html: str
    keyboard: InlineKeyboardMarkup | None = None
    pin: bool = False  # pinned when posted (the incident card)


class View(Protocol):
    """How one kind of live message is read and recorded."""

    async def read(self, tx: Tx, live: Live) -> Shown | None:
        """The message as it must read now; None when it has nothing to show (any more)."""

    async def store(
        self, unit: UnitOfWork, live: Live, message_id: int, version: int, posted: bool
    ) -> None:
        """The message shows `version` (`posted`: as a new message, `message_id`)."""

    async def behind(self, tx: Tx) -> Sequence[Live]:
        """Messages whose last change is not shown (at start)."""


# A chat that blocked or removed the bot: (chat id, Telegram's words).
Unreachable = Callable[[int, str], Awaitable[None]]
# A group that became a supergroup: (old id, new id).
Migrated = Callable[[int, int], Awaitable[None]]


class LiveMessages:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        views: Mapping[LiveKind, View],
        *,
        min_interval: float,
        on_unreachable: Unreachable,
        on_migrated: Migrated,
        leases: Leases | None = None,
    ) -> None:
        self._db = db
        self._leases = leases
        self._min_interval = min_interval
        self._bot = bot
        self._views = views
        self._on_unreachable = on_unreachable
        self._on_migrated = on_migrated
        self._failures: dict[Live, int] = {}
        self._edits: Coalescer[Live] = Coalescer(
            self._refresh, min_interval=min_interval, name="live"
        )

    def touch(self, live: Live) -> None:
        self._edits.touch(live)

    async def catch_up(self) -> None:
        """Refresh every message whose last change is not shown yet (after a restart, a chat
        that came back or moved)."""
        async with self._db.read() as tx:
            found = [live for view in self._views.values() for live in await view.behind(tx)]
        for live in found:
            self.touch(live)

    async def idle(self) -> None:
        await self._edits.idle()

    async def close(self) -> None:
        await self._edits.close()

    async def _refresh(self, live: Live) -> float | None:
        try:
            retry = await self._publish(live)
        except RetryAfter as exc:
            return seconds(exc.retry_after)
        except ChatMigrated as exc:
            log.warning("event=chat_migrated old=%s new=%s", live.chat_id, exc.new_chat_id)
            await self._on_migrated(live.chat_id, exc.new_chat_id)
            await self.catch_up()
            retry = None
        except Forbidden as exc:
            log.warning("event=live_forbidden live=%s error=%s", live, exc)
            await self._on_unreachable(live.chat_id, exc.message)
            retry = None
        except BadRequest as exc:
            # nothing a retry would change (the next change tries again)
            log.error("event=live_refused live=%s error=%s", live, exc)
            retry = None
        except NetworkError as exc:  # 5xx, time-outs, connection trouble: soon again
            failures = self._failures.get(live, 0) + 1
            self._failures[live] = failures
            log.warning("event=live_retry live=%s error=%s", live, exc)
            return min(2.0 ** (failures - 1), MAX_BACKOFF)
        self._failures.pop(live, None)
        return retry

    async def _publish(self, live: Live) -> float | None:
        if self._leases is None:
            return await self._publish_held(live)
        name = f"live:{live.kind.value}:{live.chat_id}:{live.subject}"
        if not await self._leases.acquire(name, PUBLISH_SECONDS):
            # another instance edits it (or did within min_interval): later, if still behind
            return max(TAKEN_RETRY, self._min_interval)
        try:
            return await self._publish_held(live)
        finally:
            # kept min_interval after the edit: the next one waits, whichever instance it is on
            await self._leases.acquire(name, self._min_interval)

    async def _publish_held(self, live: Live) -> float | None:
        view = self._views[live.kind]
        async with self._db.read() as tx:
            shown = await view.read(tx, live)
        if shown is None or shown.shown_version >= shown.version:
            return None
        message_id = shown.message_id
        if message_id is not None:
            try:
                await self._bot.edit_message_text(
                    shown.html,
                    chat_id=live.chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=shown.keyboard,
                )
            except BadRequest as exc:
                if not_modified(exc):
                    pass  # it already reads so
                elif message_gone(exc):
                    log.warning("event=live_gone live=%s", live)
                    message_id = None
                else:
                    raise
        if message_id is not None:
            async with self._db.unit() as unit:
                await view.store(unit, live, message_id, shown.version, False)
            return None
        message = await self._bot.send_message(
            live.chat_id, shown.html, parse_mode=ParseMode.HTML, reply_markup=shown.keyboard
        )
        # stored at once, before the pin: a reply to the new message must find it
        async with self._db.unit() as unit:
            await view.store(unit, live, message.message_id, shown.version, True)
        if shown.pin:
            try:
                await self._bot.pin_chat_message(
                    live.chat_id, message.message_id, disable_notification=True
                )
            except TelegramError as exc:
                # without the right to pin, the message still works unpinned
                log.warning("event=live_pin_failed live=%s error=%s", live, exc)
        return None
