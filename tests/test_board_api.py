"""The board's HTTP interface (docs/board.md), end to end: the real application started as
`python -m bot` starts it, its web server on a free port, the simulator as Telegram, and HTTP
requests as the page makes them."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.board import tokens
from bot.board.auth import Refusal, sign_init_data
from bot.board.server import REFUSALS
from bot.core.db import PostgresDatabase, to_db_time, utcnow
from bot.core.i18n import translator
from bot.render.keyboards import ack_data, offer_data, parse_offer_press
from bot.resources import roster_csv
from tests import backends
from tests.conftest import COMMANDER, COMMANDER_FR, DUTY_FLUVIA, RESPONDER
from tests.harness import Harness

TOKEN = "123456:TEST-token"
STRANGER = 999_001


def launch(user_id: int, language: str = "fr", age: float = 0, **extra: str) -> str:
    user = {"id": user_id, "first_name": "Someone", "language_code": language}
    fields = {
        "query_id": "AAHtest",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(time.time() - age)),
        **extra,
    }
    return sign_init_data(fields, TOKEN)


class Board:
    """One browser's view of the board: its cookie jar, its requests."""

    def __init__(self, harness: Harness) -> None:
        self.base = f"http://127.0.0.1:{harness.web.port}"
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.http.close()

    async def session(self, **body: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.base}/board/api/session", json=body) as response:
            return response.status, await response.json()

    async def get(self, path: str, **options: Any) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}{path}", **options) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


@pytest.fixture
async def board(harness: Harness) -> AsyncIterator[Board]:
    opened = Board(harness)
    yield opened
    await opened.close()


async def _incident(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Inondation de la Lys à Comines")
    await h.say(h.responder, h.ops, "Digue fragilisée rive gauche", reply_to=h.card(h.ops))


async def test_a_commander_opens_the_board_with_telegrams_launch_data(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    status, answer = await board.session(init_data=launch(COMMANDER, start_param="i1"))
    assert status == 200, answer
    assert answer["person"] == {"id": COMMANDER, "name": "Marc Delattre", "language": "fr"}
    assert answer["incident"] == 1
    assert answer["timezone"] == "Europe/Brussels"
    assert answer["languages"][0] == "fr" and "nl" in answer["languages"]
    status, overview = await board.get("/board/api/incidents")
    assert status == 200
    [listed] = overview["incidents"]
    assert listed["ref"] == 1 and listed["title"] == "Inondation de la Lys à Comines"
    assert listed["counts"]["entries"] == 2
    status, page = await board.get("/board/api/incidents/1")
    assert status == 200
    assert page["incident"]["title"] == "Inondation de la Lys à Comines"
    assert page["incident"]["commander"] is None or isinstance(page["incident"]["commander"], str)
    texts = [entry["text"] for entry in page["timeline"]]
    assert texts[0] == "Digue fragilisée rive gauche"  # newest first
    assert [entry["n"] for entry in page["timeline"]] == [2, 1]
    assert page["version"] > 0
    for key in ("units", "nearest", "requests", "alerts", "statements", "sites"):
        assert isinstance(page[key], list)
    # labels in the language asked for
    status, dutch = await board.get("/board/api/incidents/1?lang=nl")
    assert dutch["timeline"][1]["text"] != page["timeline"][1]["text"]


async def test_forged_stale_and_no_credentials_are_refused_in_the_readers_language(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    forged = launch(COMMANDER).replace("Someone", "Somebody")
    status, answer = await board.session(init_data=forged)
    assert (status, answer["error"]) == (401, "forged")
    assert answer["message"] == translator("fr").gettext(REFUSALS[Refusal.FORGED])
    assert answer["message"].startswith("Ce lien")  # the commander reads French
    status, answer = await board.session(init_data=launch(COMMANDER, language="nl", age=90_000))
    assert (status, answer["error"]) == (401, "stale")
    assert answer["message"] == translator("nl").gettext(REFUSALS[Refusal.STALE])
    assert answer["message"].startswith("Deze link")
    status, answer = await board.session()
    assert (status, answer["error"]) == (401, "no_credentials")
    # no session: nothing to read, and no incident data in any answer
    for path in ("/board/api/incidents", "/board/api/incidents/1", "/board/api/geo"):
        status, answer = await board.get(path)
        assert (status, answer["error"]) == (401, "no_credentials"), path
        assert "Inondation" not in json.dumps(answer)
    assert not board.http.cookie_jar.filter_cookies(board.base)  # type: ignore[arg-type]


async def test_a_stranger_is_refused_and_learns_nothing(harness: Harness, board: Board) -> None:
    await _incident(harness)
    status, answer = await board.session(init_data=launch(STRANGER, language="nl"))
    assert (status, answer["error"]) == (403, "stranger")
    assert answer["message"].startswith("Het bord is voorbehouden")
    status, answer = await board.get("/board/api/incidents/1")
    assert status == 401 and "Inondation" not in json.dumps(answer)


async def test_someone_elses_incident_is_not_found_like_one_that_does_not_exist(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    # a Fluvia duty officer, known to the bot, never in Tournai's group
    status, _ = await board.session(init_data=launch(DUTY_FLUVIA, language="nl"))
    assert status == 200
    status, overview = await board.get("/board/api/incidents")
    assert (status, overview) == (200, {"incidents": []})
    hidden = await board.get("/board/api/incidents/1")
    missing = await board.get("/board/api/incidents/999")
    assert hidden == missing
    assert hidden[0] == 404 and hidden[1]["error"] == "not_found"
    # a French commander does not see a Belgian incident of a group they are not in…
    other = Board(harness)
    try:
        assert (await other.session(init_data=launch(COMMANDER_FR)))[0] == 200
        assert (await other.get("/board/api/incidents/1"))[0] == 404
    finally:
        await other.close()
    # …while the responder who wrote in that group does
    responder = Board(harness)
    try:
        assert (await responder.session(init_data=launch(RESPONDER, language="nl")))[0] == 200
        assert (await responder.get("/board/api/incidents/1"))[0] == 200
    finally:
        await responder.close()


@pytest.mark.parametrize(
    "path",
    [
        "/board/api/incidents/abc",
        "/board/api/incidents/-1",
        "/board/api/incidents/1.5",
        "/board/api/incidents/" + "9" * 40,
        "/board/api/incidents/%00",
        "/board/api/incidents/1%20OR%201=1",
    ],
)
async def test_bad_incident_references_are_a_clear_400_or_404(
    harness: Harness, board: Board, path: str
) -> None:
    await _incident(harness)
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    status, answer = await board.get(path)
    assert status in (400, 404), (path, status)
    assert isinstance(answer, dict) and answer["error"] in ("bad_request", "not_found")
    assert "Traceback" not in json.dumps(answer)


async def test_huge_or_malformed_queries_and_bodies_are_refused_plainly(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    status, answer = await board.get("/board/api/incidents?lang=" + "x" * 5000)
    assert (status, answer["error"]) == (413, "too_large")
    status, answer = await board.get("/board/api/incidents?lang=%ff%fe&&&==;;")
    assert status == 200  # an unknown language is the reader's own
    url = f"{board.base}/board/api/session"
    for body, expected in (
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (json.dumps({"init_data": "x" * 20_000}).encode(), 413),
        (b"\xff\xfe\x00", 400),
    ):
        async with board.http.post(url, data=body) as response:
            assert response.status == expected, body[:20]
            answer = await response.json()
            assert "error" in answer and "Traceback" not in json.dumps(answer)
    status, answer = await board.session(init_data=12)
    assert (status, answer["error"]) == (401, "no_credentials")
    status, answer = await board.get("/board/api/nothing-here")
    assert status == 404
    status, answer = await board.get("/board/static/..%2F..%2Fserver.py")
    assert status == 404 and "aiohttp" not in json.dumps(answer)


async def test_personal_links_open_expire_and_are_revoked(harness: Harness, board: Board) -> None:
    await _incident(harness)
    async with harness.runtime.db.unit() as unit:
        link = await tokens.issue(unit, COMMANDER, 30)
        old = await tokens.issue(unit, COMMANDER, 1)
        await unit.execute(
            "UPDATE board_tokens SET expires_at = ? WHERE token_hash != ?",
            (to_db_time(utcnow() - timedelta(minutes=1)), tokens._hash(link)),
        )
    status, answer = await board.session(token=old)
    assert (status, answer["error"]) == (401, "expired")
    status, answer = await board.session(token="A" * 43)
    assert (status, answer["error"]) == (401, "forged")
    status, answer = await board.session(token=link)
    assert status == 200 and answer["person"]["id"] == COMMANDER
    assert (await board.get("/board/api/incidents/1"))[0] == 200
    async with harness.runtime.db.unit() as unit:
        assert await tokens.revoke(unit, COMMANDER) == 2  # the expired one too
    # the session opened with the link ends with it
    status, answer = await board.get("/board/api/incidents/1")
    assert (status, answer["error"]) == (401, "revoked")
    status, answer = await board.session(token=link)
    assert (status, answer["error"]) == (401, "revoked")


async def test_the_session_cookie_is_httponly_and_scoped(harness: Harness, board: Board) -> None:
    async with board.http.post(
        f"{board.base}/board/api/session", json={"init_data": launch(COMMANDER)}
    ) as response:
        cookie = response.headers["Set-Cookie"]
    assert "passerelle_board=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/board" in cookie
    # a cookie altered by hand is no session
    forged = aiohttp.ClientSession()
    try:
        async with forged.get(
            f"{board.base}/board/api/incidents",
            headers={"Cookie": "passerelle_board=eyJwIjoxMDAxLCJlIjo5OTk5OTk5OTk5fQ.AAAA"},
        ) as response:
            assert response.status == 401
    finally:
        await forged.close()


async def test_strings_and_geo(harness: Harness, board: Board) -> None:
    status, answer = await board.get("/board/api/strings?lang=nl")
    assert status == 200 and answer["lang"] == "nl" and isinstance(answer["strings"], dict)
    status, answer = await board.get(
        "/board/api/strings?lang=zz", headers={"Accept-Language": "fr"}
    )
    assert answer["lang"] == "fr"
    assert (await board.get("/board/api/geo"))[0] == 401
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    status, geo = await board.get("/board/api/geo")
    assert status == 200 and {"border", "towns", "tiles_url"} <= set(geo)
    assert len(geo["border"][0]) > 100 and any(t["name"] == "Tournai" for t in geo["towns"])
    status, answer = await board.get("/board/api/strings?lang=nl")
    assert answer["strings"]  # the page's words, in Dutch


class Stream:
    """An open board's event stream, read as EventSource reads it."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next_event(self, within: float) -> dict[str, str]:
        event: dict[str, str] = {}
        async with asyncio.timeout(within):
            while True:
                line = (await self.response.content.readline()).decode().rstrip("\n")
                if not line:
                    if "event" in event:
                        return event
                    event = {}
                    continue
                if line.startswith(":"):
                    continue
                key, _, value = line.partition(": ")
                event[key] = value


async def _stream(board: Board, **headers: str) -> tuple[aiohttp.ClientResponse, Stream]:
    response = await board.http.get(f"{board.base}/board/api/events", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response, Stream(response)


async def test_a_reply_reaches_an_open_board_within_two_seconds(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    _, before = await board.get("/board/api/incidents/1")
    response, stream = await _stream(board)
    try:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await harness.sim.send_text(
            harness.responder,
            harness.ops,
            "Évacuation rue du Moulin",
            reply_to=harness.card(harness.ops),
        )
        event = await stream.next_event(within=2.0)
        assert time.monotonic() - started < 2.0
        assert event["event"] == "change"
        data = json.loads(event["data"])
        assert data["ref"] == 1 and data["version"] > before["version"]
        _, after = await board.get("/board/api/incidents/1")
        assert after["timeline"][0]["text"] == "Évacuation rue du Moulin"
        assert after["version"] == data["version"]
        seen = int(event["id"])
    finally:
        response.close()
    # reconnecting with the last id seen: nothing missed, nothing repeated
    await harness.say(
        harness.responder, harness.ops, "Pompiers sur place", reply_to=harness.card(harness.ops)
    )
    response, stream = await _stream(board, **{"Last-Event-ID": str(seen)})
    try:
        event = await stream.next_event(within=2.0)
        assert event["event"] == "change" and int(event["id"]) > seen
    finally:
        response.close()
    # an id the hub does not remember (before a restart, or long ago): resync
    response, stream = await _stream(board, **{"Last-Event-ID": "5"})
    try:
        assert (await stream.next_event(within=2.0))["event"] == "resync"
    finally:
        response.close()


async def test_a_board_hears_nothing_of_incidents_its_person_may_not_see(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    assert (await board.session(init_data=launch(DUTY_FLUVIA, language="nl")))[0] == 200
    response, stream = await _stream(board)
    try:
        await harness.say(
            harness.responder, harness.ops, "Niveau monte", reply_to=harness.card(harness.ops)
        )
        with pytest.raises(TimeoutError):
            await stream.next_event(within=1.0)
    finally:
        response.close()


async def _all_kept(h: Harness) -> None:
    keeper = h.runtime.keeper
    assert keeper is not None
    async with asyncio.timeout(30):
        while True:
            await keeper.drained(30)
            async with h.runtime.db.read() as tx:
                waiting = await tx.one(
                    "SELECT count(*) AS n FROM media_downloads WHERE status = 'pending'"
                )
            if waiting is None or waiting["n"] == 0:
                break
            await asyncio.sleep(0.05)
    await h.settle()


async def test_a_kept_photo_is_shown_as_a_thumbnail_to_who_may_see_it_only(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    response, stream = await _stream(board)
    try:
        await harness.send_photo(
            harness.responder, harness.ops, reply_to=harness.card(harness.ops), caption="Digue"
        )
        await _all_kept(harness)
        # the photo's entry, then the file kept: the board hears of both
        await stream.next_event(within=2.0)
    finally:
        response.close()
    _, page = await board.get("/board/api/incidents/1")
    [photo] = page["timeline"][0]["media"]
    assert photo["kind"] == "photo" and photo["thumbnail_url"].startswith("api/media/")
    async with board.http.get(f"{board.base}/board/{photo['thumbnail_url']}") as answer:
        assert answer.status == 200 and answer.content_type == "image/jpeg"
        assert (await answer.read())[:2] == b"\xff\xd8"
    outsider = Board(harness)
    try:
        assert (await outsider.session(init_data=launch(DUTY_FLUVIA, language="nl")))[0] == 200
        status, answer = await outsider.get(f"/board/{photo['thumbnail_url']}")
        assert status == 404 and answer == (await outsider.get("/board/api/media/99999"))[1]
    finally:
        await outsider.close()
    assert (await board.get("/board/api/media/x1"))[0] == 400


async def test_an_alerts_acknowledgement_reaches_the_board_with_its_tally(
    harness: Harness, board: Board
) -> None:
    h = harness
    await _incident(h)
    await h.say(h.liaison, h.liaison_fr, "/alert #1 sévère Confinement à Comines")
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    _, page = await board.get("/board/api/incidents/1")
    [alert] = page["alerts"]
    assert alert["text"] == "Confinement à Comines" and alert["severity"] == "severe"
    assert alert["acked"] == 0 and alert["chats"] >= 1
    response, stream = await _stream(board)
    try:
        message = next(
            m for m in h.sim.bot_messages(h.ops) if ack_data(alert["id"]) in m.callback_data
        )
        await h.sim.press(h.commander, h.ops, message.message_id, ack_data(alert["id"]))
        event = await stream.next_event(within=2.0)
        assert json.loads(event["data"])["ref"] == 1
    finally:
        response.close()
    _, page = await board.get("/board/api/incidents/1")
    [alert] = page["alerts"]
    assert alert["acked"] == 1
    [acked] = [t for t in alert["targets"] if t["acked_at"]]
    assert acked["chat"] == "Tournai ops" and acked["ackers"] == ["Marc Delattre"]


async def test_the_bot_stops_promptly_with_boards_open(harness: Harness, board: Board) -> None:
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    response, stream = await _stream(board)
    try:
        started = time.monotonic()
        async with asyncio.timeout(10):
            await harness.stop()
        assert time.monotonic() - started < 5
        # the open board was told to resync (it reconnects, and finds the bot gone or back)
        assert (await stream.next_event(within=2.0))["event"] == "resync"
    finally:
        response.close()


async def test_a_write_by_another_process_reaches_the_open_boards(
    harness: Harness, board: Board
) -> None:
    await _incident(harness)
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    response, stream = await _stream(board)
    try:
        await asyncio.sleep(1.5)  # the hub has read SQLite's data_version once
        # another connection, as a command-line tool's would be
        other = sqlite3.connect(harness.settings.storage.path)
        try:
            other.execute(
                "INSERT INTO timeline (incident_id, kind, text, at) VALUES (1, 'note', ?, ?)",
                ("Écrit ailleurs", to_db_time(utcnow())),
            )
            other.commit()
        finally:
            other.close()
        event = await stream.next_event(within=3.0)
        assert event["event"] == "change" and json.loads(event["data"])["ref"] == 1
    finally:
        response.close()
    _, page = await board.get("/board/api/incidents/1")
    assert page["timeline"][0]["text"] == "Écrit ailleurs"


@pytest.mark.postgres_only
async def test_a_write_by_another_instance_reaches_the_open_boards(
    harness: Harness, board: Board
) -> None:
    """On PostgreSQL, another Passerelle instance's commit is notified to this one's hub."""
    await _incident(harness)
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    response, stream = await _stream(board)
    assert backends.current is not None
    other = PostgresDatabase(backends.current)
    await other.open()
    try:
        await asyncio.sleep(1.5)  # the hub has read its data_version once
        async with other.unit() as unit:
            await unit.execute(
                "INSERT INTO timeline (incident_id, kind, text, at) VALUES (1, 'note', ?, ?)",
                ("Écrit par l'autre instance", to_db_time(utcnow())),
            )
        event = await stream.next_event(within=3.0)
        assert event["event"] == "change" and json.loads(event["data"])["ref"] == 1
    finally:
        response.close()
        await other.close()
    _, page = await board.get("/board/api/incidents/1")
    assert page["timeline"][0]["text"] == "Écrit par l'autre instance"


async def test_in_webhook_mode_one_server_takes_the_webhook_and_serves_the_board(
    sim: Any, tmp_path: Any
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    h = Harness(
        sim,
        tmp_path / "hook.db",
        telegram={"token": TOKEN, "mode": "webhook"},
        webhook={
            "listen": "127.0.0.1",
            "port": port,
            "url_path": "tg",
            "url": f"http://127.0.0.1:{port}/tg",
            "secret_token": "s3cret",
        },
    )
    await h.start()
    try:
        assert h.web.port == port
        # what is not an update is refused plainly, and the bot goes on
        hook = f"http://127.0.0.1:{port}/tg"
        async with aiohttp.ClientSession() as http:
            for body in (b"{", b"[]", b'{"foo": 1}', b'{"update_id": "x"}'):
                async with http.post(
                    hook, data=body, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
                ) as answer:
                    assert answer.status == 400, body
            async with http.get(f"http://127.0.0.1:{port}/tg") as answer:
                assert answer.status in (404, 405)
        await _incident(h)  # through the webhook
        opened = Board(h)
        try:
            assert (await opened.session(init_data=launch(COMMANDER)))[0] == 200
            status, page = await opened.get("/board/api/incidents/1")
            assert status == 200 and page["timeline"][0]["text"] == "Digue fragilisée rive gauche"
        finally:
            await opened.close()
    finally:
        await h.stop()


async def test_an_address_or_header_too_long_is_a_400_without_a_traceback(
    harness: Harness, board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, answer = await board.get("/board/api/incidents?" + "a=b&" * 5000)
    assert status == 400 and "Traceback" not in str(answer)
    status, answer = await board.get("/board/", headers={"X-Big": "y" * 20_000})
    assert status == 400 and "Traceback" not in str(answer)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("aiohttp")]


async def test_a_published_statement_is_on_the_board_in_the_readers_language(
    harness: Harness, board: Board
) -> None:
    h = harness
    await _incident(h)
    await h.say(h.commander, h.ops, "/assign porte-parole @pclaeys")
    await h.say(
        h.spokesperson, h.ops, "/statement fr: Point presse à 15 h | nl: Persmoment om 15 uur"
    )
    assert (await board.session(init_data=launch(COMMANDER)))[0] == 200
    _, page = await board.get("/board/api/incidents/1")
    [statement] = page["statements"]
    assert statement["text"] == "Point presse à 15 h" and statement["published_at"]
    _, dutch = await board.get("/board/api/incidents/1?lang=nl")
    assert dutch["statements"][0]["text"] == "Persmoment om 15 uur"
    assert dutch["incident"]["spokesperson"] == "Pieter Claeys"


ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
BE-WAPI-AMB-2,ambulance,Ambulance Mouscron 1,ZS WAPI,BE,50.7444,3.2064,1,available
FR-SDIS59-FPT-1,autopompe,FPT Lille,SDIS 59,FR,50.6319,3.0684,1,available
"""


async def test_a_units_path_and_the_nearest_units_on_the_board(sim: Any, tmp_path: Any) -> None:
    h = Harness(sim, tmp_path / "units.db", agencies=True, requests={"extra_offers": 0})
    await h.start()
    opened = Board(h)
    try:
        await roster_csv.import_roster(h.runtime.db, ROSTER)
        await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
        await h.sim.send_location(h.commander, h.ops, 50.6140, 3.4060, reply_to=h.card(h.ops))
        await h.settle()
        await h.say(h.commander, h.ops, "/request 1 ambulance")
        assert (await opened.session(init_data=launch(COMMANDER)))[0] == 200
        _, page = await opened.get("/board/api/incidents/1")
        assert page["units"] == []
        # offered, not yet committed: still the nearest available ambulance
        assert {u["code"] for u in page["nearest"]} == {"BE-WAPI-AMB-1", "FR-SDIS59-FPT-1"}
        [request] = page["requests"]
        assert (request["type"], request["quantity"], request["status"]) == ("ambulance", 1, "open")
        offer = next(
            m
            for m in h.sim.bot_messages(h.agency_wapi)
            if any(d.startswith("r1:") and d.endswith(":c") for d in m.callback_data)
        )
        press = parse_offer_press(offer.callback_data[0])
        assert press is not None
        response, stream = await _stream(opened)
        try:
            await h.press(h.duty_wapi, h.agency_wapi, offer, offer_data(press[0], "c"))
            assert (await stream.next_event(within=2.0))["event"] == "change"
            await h.press(h.duty_wapi, h.agency_wapi, offer, offer_data(press[0], "e"))
        finally:
            response.close()
        _, page = await opened.get("/board/api/incidents/1?lang=nl")
        [unit] = page["units"]
        assert unit["code"] == "BE-WAPI-AMB-1" and unit["status"] == "en_route"
        assert unit["path"]["committed"] and unit["path"]["en_route"]
        assert unit["path"]["on_scene"] is None and unit["path"]["released"] is None
        assert unit["eta_minutes"] >= 1 and unit["arrival"]
        assert page["requests"][0]["units"] == ["BE-WAPI-AMB-1"]
        assert page["incident"]["lat"] == pytest.approx(50.614)
        assert {u["code"] for u in page["nearest"]} == {"BE-WAPI-AMB-2", "FR-SDIS59-FPT-1"}
    finally:
        await opened.close()
        await h.stop()
