"""POST /have: a hospital sends its EDXL-HAVE document (bot/resources/have.py) to the bot's
web server, with its own token ([have] tokens) as "Authorization: Bearer <token>".

A missing or wrong token changes nothing and is logged (without the token). Each hospital may
send `per_hospital_per_minute` documents a minute, all of them together `total_per_minute`;
beyond that the answer is 429 with Retry-After before the body is read (the token is checked
first: a few constant-time comparisons), so that a flood costs the bot next to nothing and it
keeps answering chats; a flood of wrong tokens logs at most 60 lines a minute. The
document is parsed and checked against the schema off the event loop (a worker thread), then
applied in one unit of work: all or nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import deque

from aiohttp import web

from bot.core.config import HaveSettings
from bot.core.db import Database
from bot.resources import have

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds: the limits are per minute


class Window:
    """How many events in the last minute (a sliding window of their times)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def allow(self, now: float) -> float | None:
        """None if one more is allowed now (and counted), else the seconds to wait."""
        while self._times and now - self._times[0] >= WINDOW:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return WINDOW - (now - self._times[0])
        self._times.append(now)
        return None


class HaveRoute:
    def __init__(self, settings: HaveSettings, db: Database) -> None:
        self._tokens = {name: token.encode() for name, token in settings.tokens.items()}
        self._db = db
        self._total = Window(settings.total_per_minute)
        self._per_hospital = {
            name: Window(settings.per_hospital_per_minute) for name in self._tokens
        }
        self._refused = Window(60)  # refusals logged a minute (a flood of wrong tokens)

    def _hospital(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode()
        found = None
        for name, expected in self._tokens.items():  # every one compared: constant time
            if hmac.compare_digest(given, expected):
                found = name
        return found

    async def handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        hospital = self._hospital(request)
        if hospital is None:
            if self._refused.allow(now) is None:
                log.warning("event=have_refused reason=token remote=%s", request.remote or "?")
            return web.json_response(
                {"error": "unauthorized", "message": "missing or wrong token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="have"'},
            )
        # one hospital's flood is held to its own share, then all of them to the total
        wait = self._per_hospital[hospital].allow(now)
        if wait is None:
            wait = self._total.allow(now)
        if wait is not None:
            return _too_many(wait)
        document = await _body(request)
        if document is None:
            return web.json_response(
                {"error": "too_large", "message": f"at most {have.MAX_BYTES} bytes"}, status=413
            )
        try:
            reports = await asyncio.to_thread(have.parse, document)
            async with self._db.unit() as work:
                result = await have.apply_reports(
                    work, reports, by=f"HAVE {hospital}", hospital=hospital
                )
        except have.HaveError as exc:
            log.warning("event=have_rejected hospital=%r error=%r", hospital, str(exc))
            return web.json_response({"error": "rejected", "message": str(exc)}, status=422)
        log.info("event=have_applied hospital=%r updated=%d", hospital, len(result.updated))
        return web.json_response(
            {
                "updated": {
                    code: {"free": free, "total": total}
                    for code, (free, total) in sorted(result.updated.items())
                },
                "ignored": result.ignored,
                "older": result.older,
            }
        )


async def _body(request: web.Request) -> bytes | None:
    """The body, read past the server's small default limit up to a HAVE document's own."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > have.MAX_BYTES:
            return None
        chunks.append(chunk)


def _too_many(wait: float) -> web.Response:
    return web.json_response(
        {"error": "too_many", "message": "too many HAVE documents: try again later"},
        status=429,
        headers={"Retry-After": str(max(1, int(wait + 0.999)))},
    )
