"""Open situation boards, as a separate process: each signs in with Telegram's initData (signed
with the bot's token as a Telegram client would receive it) and listens to the board's live
changes (`GET /board/api/events`, server-sent events), the way the page does.

    python -m bench.board_clients --base http://127.0.0.1:PORT --users users.json --out out.json
        [--refetch]

`users.json`: a list of Telegram users ({"id", "first_name", "username", "language_code"}); the
token comes from the environment (BENCH_BOT_TOKEN). The process prints `ready <n>` once every
board has its session and its event stream, then records every event it receives (time, event,
data, id) until SIGINT or SIGTERM, and writes them to `--out` (JSON) with its own CPU time.
With `--refetch`, a board also reads the incident it shows after each change to it, at most
once a second, as the page does (one GET /board/api/incidents/<ref> at a time per board).

A dropped stream is reopened with Last-Event-ID after 0.5 s; reconnections are counted.
Kept apart from the driver so that parsing 200 streams does not slow the Telegram stand-in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

COOKIE = "passerelle_board"


def init_data(
    token: str,
    user: dict[str, Any],
    *,
    auth_date: int | None = None,
    start_param: str | None = None,
) -> str:
    """Telegram's Mini App initData for `user`, signed with the bot's token as Telegram
    documents it: secret = HMAC-SHA256(key "WebAppData", bot token); hash = HMAC-SHA256(key
    secret, the sorted "key=value" lines without the hash), in hex."""
    fields = {
        "auth_date": str(auth_date if auth_date is not None else int(time.time())),
        "query_id": f"AAH{user['id']:x}bench",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
    }
    if start_param:
        fields["start_param"] = start_param
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


async def sign_in(http: aiohttp.ClientSession, base: str, token: str, user: dict[str, Any]) -> str:
    """The board's session cookie for `user` (raises on a refusal)."""
    async with http.post(
        f"{base}/board/api/session", json={"init_data": init_data(token, user)}
    ) as response:
        body = await response.text()
        if response.status != 200:
            raise RuntimeError(f"session for {user['id']}: {response.status} {body[:200]}")
        morsel = response.cookies.get(COOKIE)
        if morsel is None:
            raise RuntimeError(f"session for {user['id']}: no {COOKIE} cookie")
        return f"{COOKIE}={morsel.value}"


@dataclass
class Board:
    user: dict[str, Any]
    cookie: str = ""
    events: list[tuple[float, str, str, str]] = field(default_factory=list)
    reconnects: int = 0
    refetches: int = 0
    refetch_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_id: str = ""
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    dirty: set[int] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


async def listen(http: aiohttp.ClientSession, base: str, board: Board) -> None:
    """Read the board's event stream for ever, reopening it when it drops."""
    while True:
        headers = {"Cookie": board.cookie, "Accept": "text/event-stream"}
        if board.last_id:
            headers["Last-Event-ID"] = board.last_id
        try:
            async with http.get(
                f"{base}/board/api/events",
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
            ) as response:
                if response.status != 200:
                    board.errors.append(f"events: {response.status}")
                    await asyncio.sleep(0.5)
                    board.reconnects += 1
                    continue
                board.opened.set()
                event, data, event_id = "message", list[str](), ""
                async for raw in response.content:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if not line:
                        if data or event != "message":
                            text = "\n".join(data)
                            board.events.append((time.time(), event, text, event_id))
                            if event_id:
                                board.last_id = event_id
                            if event == "change":
                                _mark_dirty(board, text)
                        event, data, event_id = "message", [], ""
                    elif line.startswith(":"):
                        continue  # keep-alive
                    else:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if name == "event":
                            event = value
                        elif name == "data":
                            data.append(value)
                        elif name == "id":
                            event_id = value
        except (aiohttp.ClientError, TimeoutError) as error:
            board.errors.append(f"events: {type(error).__name__}")
        board.reconnects += 1
        await asyncio.sleep(0.5)


def _mark_dirty(board: Board, data: str) -> None:
    try:
        ref = int(json.loads(data)["ref"])
    except (ValueError, KeyError, TypeError):
        return
    board.dirty.add(ref)
    board.wake.set()


async def refetch(http: aiohttp.ClientSession, base: str, board: Board) -> None:
    """The page's reaction to a change: read the incident again, at most once a second."""
    while True:
        await board.wake.wait()
        board.wake.clear()
        refs, board.dirty = board.dirty, set()
        for ref in sorted(refs):
            started = time.perf_counter()
            try:
                async with http.get(
                    f"{base}/board/api/incidents/{ref}", headers={"Cookie": board.cookie}
                ) as response:
                    await response.read()
            except aiohttp.ClientError as error:
                board.errors.append(f"refetch: {type(error).__name__}")
                continue
            board.refetches += 1
            board.refetch_ms.append(1000 * (time.perf_counter() - started))
        await asyncio.sleep(1.0)


async def main_async(args: argparse.Namespace, users: list[dict[str, Any]]) -> dict[str, Any]:
    token = os.environ["BENCH_BOT_TOKEN"]
    boards = [Board(user) for user in users]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=connector) as http:
        gate = asyncio.Semaphore(20)

        async def open_one(board: Board) -> None:
            async with gate:
                board.cookie = await sign_in(http, args.base, token, board.user)
            tasks.append(asyncio.create_task(listen(http, args.base, board)))
            if args.refetch:
                tasks.append(asyncio.create_task(refetch(http, args.base, board)))
            await board.opened.wait()

        async with asyncio.timeout(120):
            await asyncio.gather(*(open_one(b) for b in boards))
        cpu_start = _cpu()
        print(f"ready {len(boards)}", flush=True)
        await stop.wait()
        cpu = _cpu() - cpu_start
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    out = {
        "cpu_seconds": cpu,
        "boards": [
            {
                "user": b.user["id"],
                "events": b.events,
                "reconnects": b.reconnects,
                "refetches": b.refetches,
                "refetch_ms": b.refetch_ms,
                "errors": b.errors[:20],
            }
            for b in boards
        ],
    }
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.board_clients", description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--refetch", action="store_true")
    args = parser.parse_args(argv)
    users = json.loads(Path(args.users).read_text(encoding="utf-8"))
    out = asyncio.run(main_async(args, users))
    Path(args.out).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
