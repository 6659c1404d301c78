"""The durable outbox (the `outbox` table) and its sender: the only path to chats other than
the one that asked.

Services call `enqueue` inside their unit of work, so a message exists exactly when the change
that caused it does (and the sender is woken once it committed). The sender delivers rows
oldest first, one at a time per chat (so each chat reads them in order), several chats at
once. PTB's AIORateLimiter keeps the pace Telegram allows (about 30 messages/s overall, shared
by the instances alive: bot.delivery.pace; 20/min per group). A 429 waits `retry_after`;
5xx and time-outs are retried with backoff; a chat that blocked or removed the bot is marked
unreachable and the liaison chats are told. A row is marked sent with its message id; a crash
between Telegram's answer and that mark can repeat that one message after restart, never more.

What a chat's migration or unreachability means beyond this table (bot.lifecycle.chats), and
what a delivered row means to its purpose (an alert's delivery, a link to its incident), is
given to the sender by the composition root: this module knows no domain.

Several instances send one outbox: each claims the rows it sends (`claimed_by`, and
`claimed_until` CLAIM_SECONDS ahead) in one statement per row, skipping the rows another is
claiming at that moment (`db.skip_locked`); a chat's next row is claimed only once the one
before it is sent, whoever sent it, so each chat still reads them in order. Claims and due
times are in the database server's time (Database.now), whatever this machine's clock says.
The rows claimed by an instance that died are taken by another once the claim runs out (at once
by an instance that starts, if the claimer's heartbeat stopped).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.cluster.members import RELEASABLE_CLAIMS, releasable_claims
from bot.core.db import Database, Row, StorageLost, Tx, UnitOfWork, to_db_time, utcnow
from bot.core.effects import Effects
from bot.core.html import split_message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A claimed row is this instance's to send for this long; then anyone's again (its sender died).
CLAIM_SECONDS = 30

# After a row is delivered: what its purpose needs done with the message id, in the unit of
# work that marks it sent (e.g. an alert's delivery to that chat).
DeliveredHook = Callable[[UnitOfWork, Row, int], Awaitable[None]]
# When a chat blocked or removed the bot: (chat id, Telegram's words).
UnreachableHook = Callable[[int, str], Awaitable[None]]
# When a group became a supergroup: (old id, new id).
MigratedHook = Callable[[int, int], Awaitable[None]]


async def enqueue(
    tx: UnitOfWork,
    *,
    chat_id: int,
    html: str,
    purpose: str,
    reply_markup: Mapping[str, Any] | None = None,
    incident_ref: int | None = None,
    subject_id: int | None = None,
    key: str | None = None,
) -> int | None:
    """Queue a message in the caller's transaction; returns its id (None if `key` was queued
    already). A message longer than Telegram allows is queued as several, cut between lines
    (the buttons go with the last part)."""
    now = to_db_time(tx.now())
    if key is not None:
        existing = await tx.one("SELECT id FROM outbox WHERE dedupe_key = ?", (key,))
        if existing is not None:
            return None
    parts = split_message(html)
    first: int | None = None
    for number, part in enumerate(parts, start=1):
        last = number == len(parts)
        row_id = await tx.execute(
            "INSERT INTO outbox (chat_id, purpose, html, reply_markup, incident_id, subject_id,"
            " dedupe_key, not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chat_id,
                purpose,
                part,
                json.dumps(reply_markup) if reply_markup and last else None,
                incident_ref,
                subject_id,
                key if key is None or number == 1 else f"{key}#{number}",
                now,
                now,
            ),
        )
        first = first if first is not None else row_id
    tx.effects.outbox = True
    return first


async def hold_chat(unit: UnitOfWork, chat_id: int, error: str) -> None:
    """The chat cannot be reached: its pending rows wait until it can."""
    await unit.execute(
        "UPDATE outbox SET status = 'unreachable', last_error = ?, claimed_until = NULL"
        " WHERE chat_id = ? AND status = 'pending'",
        (error[:500], chat_id),
    )


async def resume_chat(unit: UnitOfWork, chat_id: int) -> None:
    """The chat can be reached again: what was held goes out now."""
    await unit.execute(
        "UPDATE outbox SET status = 'pending', not_before = ?, claimed_until = NULL"
        " WHERE chat_id = ? AND status = 'unreachable'",
        (to_db_time(unit.now()), chat_id),
    )
    unit.effects.outbox = True


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: what was queued for it goes to the new id."""
    await unit.execute(
        "UPDATE outbox SET chat_id = ?, claimed_until = NULL WHERE chat_id = ?", (new_id, old_id)
    )
    unit.effects.outbox = True


class OutboxSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        on_unreachable: UnreachableHook,
        on_migrated: MigratedHook,
        apply: Callable[[Effects], Awaitable[None]],
        instance: str = "",
    ) -> None:
        self._apply = apply
        self._instance = instance
        self._db = db
        self._on_unreachable = on_unreachable
        self._on_migrated = on_migrated
        self._bot = bot
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[int] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._hooks: dict[str, list[DeliveredHook]] = {}
        self._every: list[DeliveredHook] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent = 0  # rows this instance delivered since it started

    def on_delivered(self, purpose: str | None, hook: DeliveredHook) -> None:
        """`hook` runs in the unit of work that marks a row of this purpose (None: of any
        purpose) sent; the effects it records are applied once that committed."""
        if purpose is None:
            self._every.append(hook)
        else:
            self._hooks.setdefault(purpose, []).append(hook)

    def wake(self) -> None:
        """Something was queued: deliver now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        """Start delivering. What was queued before a stop or a crash is due at once: what this
        instance (this name) had claimed, what an instance whose heartbeat stopped had claimed,
        what nobody claimed; the claims of the other instances alive are theirs until they run
        out."""
        now = self._db.now()
        async with self._db.unit() as tx:
            await tx.execute(
                "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, not_before = ?"
                " WHERE status = 'pending' AND " + RELEASABLE_CLAIMS,
                (to_db_time(now), *releasable_claims(self._instance, now)),
            )
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-sender")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop delivering; a message being sent is abandoned and goes out after restart."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        deliveries = list(self._deliveries)
        for task in deliveries:
            task.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)

    async def drained(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until nothing is due (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while True:
                self.wake()
                await asyncio.sleep(0.01)
                await self._idle.wait()
                if not await self._due_rows(1) and not self._in_flight:
                    return

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self._concurrency)
        tasks = self._deliveries
        while True:
            self._wake.clear()
            self._idle.clear()
            try:
                rows = await self._claim(self._concurrency * 2)
            except StorageLost as exc:  # logged once by the database (event=storage_lost)
                log.debug("event=outbox_claim_failed error=%s", exc)
                rows = []
            except Exception:
                log.exception("event=outbox_claim_failed")
                rows = []
            for row in rows:
                await slots.acquire()
                self._in_flight.add(row["id"])
                task = asyncio.create_task(self._deliver(row))
                tasks.add(task)
                task.add_done_callback(
                    functools.partial(self._finished, slots=slots, tasks=tasks, row_id=row["id"])
                )
            if rows:
                continue
            if not self._in_flight:
                self._idle.set()
            try:
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _finished(
        self,
        task: asyncio.Task[None],
        *,
        slots: asyncio.Semaphore,
        tasks: set[asyncio.Task[None]],
        row_id: int,
    ) -> None:
        slots.release()
        self._in_flight.discard(row_id)
        tasks.discard(task)
        self._wake.set()  # the chat's next message may go now

    async def _due_rows(self, limit: int) -> list[Row]:
        now = to_db_time(self._db.now())
        async with self._db.read() as tx:
            return await self._heads(tx, now, limit)

    async def _heads(self, tx: Tx, now: str, limit: int, lock: str = "") -> list[Row]:
        # the oldest pending row of each chat, if it is due and nobody is working on it
        # (`lock`: the claim's " FOR UPDATE SKIP LOCKED" where the database has it)
        return await tx.all(
            "SELECT o.* FROM outbox o WHERE o.status = 'pending' AND o.not_before <= ?"
            " AND (o.claimed_until IS NULL OR o.claimed_until < ?)"
            " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.chat_id = o.chat_id"
            "                 AND p.status = 'pending' AND p.id < o.id)"
            " ORDER BY o.id LIMIT ?" + lock,
            (now, now, limit),
        )

    async def _claim(self, limit: int) -> list[Row]:
        """Claim due rows row by row, so several senders never deliver the same one: the
        claim is atomic on its own (each row's conditional UPDATE; on PostgreSQL the rows
        another instance is claiming are skipped), it need not wait for other writers."""
        now = self._db.now()
        until = to_db_time(now + timedelta(seconds=CLAIM_SECONDS))
        claimed = []
        async with self._db.unit(exclusive=False) as tx:
            for row in await self._heads(tx, to_db_time(now), limit, self._db.skip_locked):
                if row["id"] in self._in_flight:
                    continue
                got = await tx.execute(
                    "UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE id = ?"
                    " AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)",
                    (until, self._instance, row["id"], to_db_time(now)),
                )
                if got:
                    claimed.append(row)
        return claimed

    async def _deliver(self, row: Row) -> None:
        try:
            markup = (
                InlineKeyboardMarkup.de_json(json.loads(row["reply_markup"]), self._bot)
                if row["reply_markup"]
                else None
            )
            message = await self._bot.send_message(
                row["chat_id"], row["html"], parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry if isinstance(retry, (int, float)) else retry.total_seconds()
            await self._retry(row, seconds, f"429 retry after {seconds}", count=False)
        except ChatMigrated as exc:
            await self._on_migrated(row["chat_id"], exc.new_chat_id)
            self.wake()
        except Forbidden as exc:
            log.warning("event=chat_unreachable chat=%s error=%s", row["chat_id"], exc.message)
            await self._on_unreachable(row["chat_id"], exc.message)
            self.wake()
        except BadRequest as exc:
            await self._fail(row, f"400 {exc.message}")
        except (TimedOut, NetworkError) as exc:  # 5xx, time-outs, connection trouble
            await self._retry(row, min(2.0 ** row["attempts"], 60.0), str(exc))
        except Exception as exc:
            log.exception("event=outbox_send_error id=%s", row["id"])
            await self._retry(row, min(2.0 ** row["attempts"], 60.0), repr(exc))
        else:
            await self._sent(row, message.message_id)

    async def _sent(self, row: Row, message_id: int) -> None:
        async with self._db.unit() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'sent', message_id = ?, sent_at = ?,"
                " attempts = attempts + 1, claimed_until = NULL, claimed_by = NULL WHERE id = ?",
                (message_id, to_db_time(utcnow()), row["id"]),
            )
            for hook in [*self._every, *self._hooks.get(row["purpose"], [])]:
                await hook(tx, row, message_id)
        self.sent += 1
        await self._apply(tx.effects)
        log.info(
            "event=outbox_sent id=%s chat=%s purpose=%s", row["id"], row["chat_id"], row["purpose"]
        )

    async def _retry(self, row: Row, seconds: float, error: str, count: bool = True) -> None:
        attempts = row["attempts"] + (1 if count else 0)
        if attempts >= MAX_ATTEMPTS:
            await self._fail(row, f"gave up after {attempts} attempts: {error}")
            return
        not_before = to_db_time(self._db.now() + timedelta(seconds=seconds))
        async with self._db.unit() as tx:
            await tx.execute(
                "UPDATE outbox SET attempts = ?, not_before = ?, last_error = ?,"
                " claimed_until = NULL, claimed_by = NULL WHERE id = ?",
                (attempts, not_before, error[:500], row["id"]),
            )
        log.warning(
            "event=outbox_retry id=%s chat=%s in=%.1fs error=%s",
            row["id"],
            row["chat_id"],
            seconds,
            error,
        )

    async def _fail(self, row: Row, error: str) -> None:
        async with self._db.unit() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'failed', last_error = ?, claimed_until = NULL,"
                " claimed_by = NULL WHERE id = ?",
                (error[:500], row["id"]),
            )
        log.error("event=outbox_failed id=%s chat=%s error=%s", row["id"], row["chat_id"], error)
