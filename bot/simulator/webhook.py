"""Webhook delivery: POST queued updates to the bot's webhook, retrying like Telegram."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import httpx

from .state import JsonDict, World

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookPusher:
    """Background task: while a webhook url is set, deliver pending updates one at a time.

    An update leaves the queue only on a 2xx answer. Failures are retried after each delay in
    ``retry_delays`` (short, so tests stay fast); after that the update is dropped and the
    error recorded for getWebhookInfo, as Telegram eventually gives up too.
    """

    def __init__(self, world: World, retry_delays: Sequence[float] = (0.05, 0.1, 0.2, 0.4)) -> None:
        self.world = world
        self.retry_delays = tuple(retry_delays)
        self.client: httpx.AsyncClient | None = None
        self.task: asyncio.Task[None] | None = None
        self.attempts: list[tuple[int, int | None]] = []  # (update_id, status or None)

    def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=10.0)
        self.task = asyncio.create_task(self._run(), name="telegram-simulator-webhook")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def post(self, payload: JsonDict, secret: str | None) -> int | None:
        """POST one update to the current webhook url; the status, or None if unreachable."""
        assert self.client is not None, "simulator not started"
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        try:
            response = await self.client.post(self.world.webhook.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            self._record_error(f"Connection failed: {exc!r}")
            return None
        if not 200 <= response.status_code < 300:
            self._record_error(f"Wrong response from the webhook: {response.status_code}")
        return response.status_code

    def _record_error(self, message: str) -> None:
        self.world.webhook.last_error_date = self.world.now()
        self.world.webhook.last_error_message = message

    async def _run(self) -> None:
        queue = self.world.updates
        while True:
            hook = self.world.webhook
            pending = queue.undelivered if hook.url else []
            if not pending:
                await queue.wait_changed(1.0)
                continue
            update = pending[0]
            for delay in (*self.retry_delays, None):
                status = await self.post(update.payload, hook.secret_token)
                self.attempts.append((update.update_id, status))
                if (status is not None and 200 <= status < 300) or delay is None:
                    break
                await asyncio.sleep(delay)
                if self.world.webhook.url != hook.url:
                    break  # the bot changed or removed its webhook meanwhile
            if update in queue.pending and (self.world.webhook.url == hook.url):
                update.delivered = True
                queue.pending.remove(update)
