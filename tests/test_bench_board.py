"""The board benchmark's own pieces, without timing anything: the boards' client process
signs in and records the events of a stream that drops and resumes; the check of "every board
received every change" fails a board that missed its incident's last version."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bench.board import _check
from bench.board_clients import COOKIE, init_data
from bot.board.auth import verify_init_data

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424242:BENCH-token"


def test_init_data_is_signed_as_telegram_documents() -> None:
    user = {"id": 7, "first_name": "Anne", "language_code": "fr"}
    fields = dict(parse_qsl(init_data(TOKEN, user, auth_date=1_700_000_000)))
    received = fields.pop("hash")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    assert received == hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    assert json.loads(fields["user"]) == user
    assert fields["auth_date"] == "1700000000"
    other = dict(parse_qsl(init_data("1:other", user, auth_date=1_700_000_000)))
    assert other["hash"] != received
    # and the board's own check accepts it as Telegram's
    launch = verify_init_data(init_data(TOKEN, user), TOKEN, max_age=60)
    assert (launch.user.id, launch.user.language_code) == (7, "fr")


def _fixture_app(seen: list[dict[str, Any]], resumed: asyncio.Event) -> web.Application:
    async def session(request: web.Request) -> web.Response:
        body = await request.json()
        fields = dict(parse_qsl(body["init_data"]))
        user = json.loads(fields["user"])
        response = web.json_response({"person": {"id": user["id"]}})
        response.set_cookie(COOKIE, f"s{user['id']}", httponly=True, path="/board")
        return response

    async def events(request: web.Request) -> web.StreamResponse:
        seen.append(
            {"cookie": request.cookies.get(COOKIE), "last": request.headers.get("Last-Event-ID")}
        )
        if sum(1 for s in seen if s["last"] == "1") >= 2:
            resumed.set()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if request.headers.get("Last-Event-ID") is None:
            await response.write(b": keep-alive\n\n")
            await response.write(b'event: change\ndata: {"ref": 1, "version": 2}\nid: 1\n\n')
            # the connection drops: the client must come back with Last-Event-ID
            return response
        await response.write(b'event: change\ndata: {"ref": 1, "version": 3}\nid: 2\n\n')
        await asyncio.sleep(30)
        return response

    app = web.Application()
    app.router.add_post("/board/api/session", session)
    app.router.add_get("/board/api/events", events)
    return app


async def test_board_clients_sign_in_and_record_a_resumed_stream(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    resumed = asyncio.Event()
    runner = web.AppRunner(_fixture_app(seen, resumed))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    users = tmp_path / "users.json"
    users.write_text(json.dumps([{"id": 5, "first_name": "A"}, {"id": 6, "first_name": "B"}]))
    out = tmp_path / "out.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.board_clients",
        "--base",
        f"http://127.0.0.1:{port}",
        "--users",
        str(users),
        "--out",
        str(out),
        cwd=str(ROOT),
        env=dict(os.environ, BENCH_BOT_TOKEN=TOKEN),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            assert (await proc.stdout.readline()).startswith(b"ready 2")
            await resumed.wait()
            await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
        await runner.cleanup()
    result = json.loads(out.read_text())
    assert {s["cookie"] for s in seen} == {"s5", "s6"}
    for board in result["boards"]:
        changes = [(e[1], json.loads(e[2]), e[3]) for e in board["events"]]
        assert changes == [
            ("change", {"ref": 1, "version": 2}, "1"),
            ("change", {"ref": 1, "version": 3}, "2"),
        ]
        assert board["reconnects"] == 1


def test_check_counts_only_boards_with_the_last_version() -> None:
    def board(user: int, versions: list[tuple[float, int]]) -> dict[str, Any]:
        events = [
            [at, "change", json.dumps({"ref": 10, "version": v}), str(i)]
            for i, (at, v) in enumerate(versions)
        ]
        return {"user": user, "events": events}

    boards = {
        "boards": [
            board(1, [(100.0, 4), (101.5, 5)]),  # up to date 1.5 s after the last change
            board(2, [(100.0, 4)]),  # missed the last version
            board(3, [(100.2, 5)]),
        ]
    }
    # told to read everything again after the last change: the page does, and is up to date
    boards["boards"].append(
        {
            "user": 4,
            "events": [
                [99.0, "change", json.dumps({"ref": 10, "version": 4}), "1"],
                [100.4, "resync", "", ""],
            ],
        }
    )
    complete, lag = _check(boards, {1: 10, 2: 10, 3: 10, 4: 10}, {10: 5}, {10: 100.0})
    assert complete == 3
    assert lag == 1.5
