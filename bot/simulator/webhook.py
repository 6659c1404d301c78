"""Webhook delivery: POST queued updates to the bot's webhook, retrying like Telegram.

By default the updates go one at a time to the url the bot set with setWebhook, and an update
that still fails after the last of ``retry_delays`` is dropped (as Telegram gives up too, in
the end). ``balance`` puts a reverse proxy in front of several instances of the bot: each
delivery goes to the next of their urls in turn, several at once, and a failed one (connection
refused or reset, a time-out, any answer but 2xx) is sent again, to the next instance, until
one answers 2xx: Telegram keeps an update it could not deliver. As Telegram (grammY's
documentation of webhooks describes it), one chat's updates go in sequence, one that fails
holding back that chat's next ones, and different chats' at the same time. Every POST is kept
in ``deliveries``, so a test can count them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import aiohttp

from .state import JsonDict, QueuedUpdate, World

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Why a POST got no answer (Delivery.error)
REFUSED = "refused"  # nothing listens there: the instance is down
TIMEOUT = "timeout"  # no answer within the time-out: the instance is stuck or slow
RESET = "reset"  # the connection broke before the answer: the instance died meanwhile


@dataclass
class Delivery:
    """One POST of an update to a webhook: where it went, what came back, when."""

    update_id: int
    url: str
    started: float  # time.monotonic()
    ended: float = 0.0
    status: int | None = None  # the HTTP status; None when no answer came
    error: str | None = None  # REFUSED, TIMEOUT or RESET when no answer came

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """ "200", "500", … or why there was no answer."""
        return str(self.status) if self.status is not None else self.error or "?"


class WebhookPusher:
    """Background task: while a webhook url is set, deliver the pending updates.

    An update leaves the queue only on a 2xx answer. Without ``balance``, one update at a
    time goes to the set url; failures are retried after each delay in ``retry_delays`` (short,
    so tests stay fast), after which the update is dropped and the error recorded for
    getWebhookInfo.
    """

    def __init__(self, world: World, retry_delays: Sequence[float] = (0.05, 0.1, 0.2, 0.4)) -> None:
        self.world = world
        self.retry_delays = tuple(retry_delays)
        self.client: aiohttp.ClientSession | None = None
        self.task: asyncio.Task[None] | None = None
        self.attempts: list[tuple[int, int | None]] = []  # (update_id, status or None)
        self.deliveries: list[Delivery] = []
        # set by balance(): the instances behind the proxy, deliveries at once, time-out
        self.backends: tuple[str, ...] = ()
        self.connections = 1
        self.timeout = 10.0
        self.keep = False  # retry until delivered (True) or drop after the last delay
        self._turn = itertools.count()
        # update id → (its delivery, its chat)
        self._in_flight: dict[int, tuple[asyncio.Task[None], Hashable]] = {}

    def balance(
        self,
        backends: Sequence[str],
        *,
        connections: int = 8,
        timeout: float = 10.0,
        keep: bool = True,
    ) -> None:
        """A reverse proxy in front of several instances: deliveries go round-robin to
        ``backends`` (full urls, the path included) instead of the url set with setWebhook,
        which must still be set (the proxy's public address). Up to ``connections`` updates
        are delivered at once, one per chat; an instance that does not answer within
        ``timeout`` seconds has failed that delivery. ``keep``: a failed update is sent again
        (to the next instance) until one answers 2xx; the last retry delay repeats."""
        if not backends:
            raise ValueError("at least one backend url")
        self.backends = tuple(backends)
        self.connections = max(1, connections)
        self.timeout = timeout
        self.keep = keep

    # ---- what was delivered ----------------------------------------------------------------

    def answered(self) -> set[int]:
        """The updates some instance answered 2xx (Telegram considers them delivered)."""
        return {d.update_id for d in self.deliveries if d.ok}

    def failures(self) -> dict[str, int]:
        """Deliveries that failed, by outcome ("refused", "timeout", "reset", "500", …)."""
        found: dict[str, int] = {}
        for d in self.deliveries:
            if d.ended and not d.ok:
                found[d.outcome] = found.get(d.outcome, 0) + 1
        return found

    def by_url(self, *, ok: bool | None = None) -> dict[str, int]:
        """Deliveries per url (only the 2xx ones with ok=True, only the others with False)."""
        found: dict[str, int] = {}
        for d in self.deliveries:
            if ok is None or d.ok == ok:
                found[d.url] = found.get(d.url, 0) + 1
        return found

    # ---- life ------------------------------------------------------------------------------

    def start(self) -> None:
        # no pool limit of its own: `connections` bounds the deliveries at once. aiohttp rather
        # than httpx: httpx's pool scans every connection on each request, which cost the
        # stand-in a core's worth of CPU at a few hundred deliveries/s (docs/benchmarks.md)
        self.client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=10.0),
        )
        self.task = asyncio.create_task(self._run(), name="telegram-simulator-webhook")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        tasks = [task for task, _ in self._in_flight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._in_flight.clear()
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def post(
        self, payload: JsonDict, secret: str | None, url: str | None = None
    ) -> int | None:
        """POST one update to ``url`` (default: the current webhook url); the status, or None
        if no answer came."""
        delivery = await self._post(payload, secret, url or self.world.webhook.url)
        return delivery.status

    async def _post(self, payload: JsonDict, secret: str | None, url: str) -> Delivery:
        assert self.client is not None, "simulator not started"
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        delivery = Delivery(int(payload.get("update_id", 0)), url, time.monotonic())
        self.deliveries.append(delivery)
        try:
            async with self.client.post(
                url,
                json=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                await response.read()
                status = response.status
        except TimeoutError as exc:
            delivery.error = TIMEOUT
            self._record_error(f"Connection timed out: {exc!r}")
        except aiohttp.ClientConnectorError as exc:
            delivery.error = REFUSED
            self._record_error(f"Connection failed: {exc!r}")
        except aiohttp.ClientError as exc:
            delivery.error = RESET
            self._record_error(f"Connection failed: {exc!r}")
        else:
            delivery.status = status
            if not delivery.ok:
                self._record_error(f"Wrong response from the webhook: {status}")
        delivery.ended = time.monotonic()
        return delivery

    def _record_error(self, message: str) -> None:
        self.world.webhook.last_error_date = self.world.now()
        self.world.webhook.last_error_message = message

    # ---- the delivery loop -----------------------------------------------------------------

    async def _run(self) -> None:
        queue = self.world.updates
        while True:
            started = False
            if self.world.webhook.url:
                busy = {chat for _, chat in self._in_flight.values()}
                for update in queue.each_undelivered():
                    if len(self._in_flight) >= self.connections:
                        break
                    if update.update_id in self._in_flight:
                        continue
                    chat = _chat_of(update)
                    if chat in busy:
                        continue  # the chat's earlier update first: each chat in order
                    busy.add(chat)
                    task = asyncio.create_task(self._deliver(update))
                    self._in_flight[update.update_id] = (task, chat)
                    task.add_done_callback(functools.partial(self._finished, update.update_id))
                    started = True
            if not started:
                await queue.wait_changed(1.0)

    def _finished(self, update_id: int, _: object) -> None:
        self._in_flight.pop(update_id, None)
        self.world.updates.notify()  # the chat's next update may go now

    def _target(self) -> str:
        if self.backends:
            return self.backends[next(self._turn) % len(self.backends)]
        return self.world.webhook.url

    async def _deliver(self, update: QueuedUpdate) -> None:
        queue = self.world.updates
        hook = self.world.webhook
        url, secret = hook.url, hook.secret_token
        for attempt in itertools.count():
            delivery = await self._post(update.payload, secret, self._target())
            self.attempts.append((update.update_id, delivery.status))
            if delivery.ok:
                break
            if attempt >= len(self.retry_delays) and not self.keep:
                break  # given up: the update is dropped
            delays = self.retry_delays or (0.0,)
            await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
            if self.world.webhook.url != url:
                return  # the bot changed or removed its webhook meanwhile: left queued
        if self.world.webhook.url == url and queue.take(update):
            update.delivered = True


def _chat_of(update: QueuedUpdate) -> Hashable:
    """The chat an update belongs to (its updates are delivered in order); else its own id."""
    for kind, body in update.payload.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return ("update", update.update_id)
