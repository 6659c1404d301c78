"""A stand-in for the board's HTTP side, keeping to the contract of docs/board.md, for testing
the page (bot/board/static) in a browser on its own: the real page and its real strings
(bot.board.strings), with a fixed incident and credentials that are valid or not by name.
The end-to-end tests (tests/test_board_browser.py) use the real server; this one lets the page's
own behaviour (refusals, languages, the live stream's reconnection) be tested apart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.board.strings import page_strings

STATIC = Path(__file__).resolve().parents[1] / "bot" / "board" / "static"
COOKIE = "passerelle_board"
VALID_INIT = "query_id=AAE&user=%7B%22id%22%3A1001%7D&auth_date=1&start_param=i7&hash=good"
STRANGER_INIT = "user=%7B%22id%22%3A4242%7D&auth_date=1&hash=good"
FORGED_INIT = "user=%7B%22id%22%3A1001%7D&auth_date=1&hash=forged"
TITLE = "Citerne couchée, A8 sortie Tournai-Ouest"

REFUSALS = {
    "forged": (401, "Ces identifiants ne viennent pas de Telegram."),
    "stale": (401, "Ces identifiants sont trop anciens : rouvrez le tableau depuis Telegram."),
    "expired": (401, "Ce lien a expiré : demandez-en un nouveau avec /tableau."),
    "revoked": (401, "Ce lien a été révoqué : demandez-en un nouveau avec /tableau."),
    "stranger": (403, "Vous n'êtes inscrit dans aucun groupe de Passerelle."),
    "no_credentials": (401, "Ouvrez le tableau depuis Telegram."),
}


def _incident() -> dict[str, Any]:
    return {
        "incident": {
            "ref": 7,
            "title": TITLE,
            "status": "active",
            "severity": "severe",
            "country": "BE",
            "exercise": False,
            "type": "hazmat",
            "lat": 50.6055,
            "lon": 3.3462,
            "location_text": "A8, sortie Tournai-Ouest",
            "commander": {"id": 1001, "name": "Marc Delattre"},
            "spokesperson": {"id": 1003, "name": "Pieter Claeys"},
            "declared_at": "2026-11-29T22:40:00Z",
            "updated_at": "2026-11-30T08:05:00Z",
            "phases": [{"country": "BE", "level": "provincial", "label": "phase provinciale"}],
        },
        "units": [
            {
                "code": "BE-WAPI-AMB-3",
                "name": "Ambulance Tournai 3",
                "agency": "ZS WAPI",
                "country": "BE",
                "status": "on_scene",
                "lat": 50.60,
                "lon": 3.35,
                "eta_minutes": None,
                "path": {
                    "committed": "2026-11-29T22:45:00Z",
                    "en_route": "2026-11-29T22:47:00Z",
                    "on_scene": "2026-11-29T23:02:00Z",
                    "released": None,
                },
            },
            {
                "code": "FR-SDIS59-CMIC-1",
                "name": "CMIC Lille",
                "agency": "SDIS 59",
                "country": "FR",
                "status": "en_route",
                "lat": 50.63,
                "lon": 3.06,
                "eta_minutes": 18,
                "path": {
                    "committed": "2026-11-30T07:50:00Z",
                    "en_route": "2026-11-30T07:55:00Z",
                    "on_scene": None,
                    "released": None,
                },
            },
        ],
        "nearest": [
            {
                "code": "BE-WAPI-FPT-2",
                "name": "Autopompe Péruwelz",
                "agency": "ZS WAPI",
                "country": "BE",
                "lat": 50.51,
                "lon": 3.59,
                "distance_km": 19.4,
            }
        ],
        "requests": [
            {
                "id": 1,
                "type": "hazmat",
                "quantity": 1,
                "committed": 1,
                "status": "filled",
                "note": "fuite au dôme",
                "requested_at": "2026-11-30T07:48:00Z",
                "units": [{"code": "FR-SDIS59-CMIC-1", "status": "en_route"}],
            }
        ],
        "alerts": [
            {
                "id": 1,
                "severity": "severe",
                "text": "Confinement à Tournai-Ouest | Schuilen in Doornik-West",
                "sent_at": "2026-11-30T07:30:00Z",
                "acked": 2,
                "chats": 3,
            }
        ],
        "statements": [
            {"id": 1, "published_at": "2026-11-30T08:00:00Z", "text": "Un accident impliquant"}
        ],
        "sites": [
            {
                "name": "Yara Tertre",
                "lat": 50.47,
                "lon": 3.79,
                "radius_km": 5,
                "hazards": ["ammonia", "toxic_cloud"],
            }
        ],
        "timeline": [
            {
                "n": 3,
                "at": "2026-11-30T07:31:00Z",
                "author": "Jan Peeters",
                "kind": "note",
                "text": "Plaque orange 33/1203, fuite au dôme",
                "lat": None,
                "lon": None,
                "media": [],
            },
            {
                "n": 2,
                "at": "2026-11-29T23:03:00Z",
                "author": "Jan Peeters",
                "kind": "location",
                "text": "📍 50.6055, 3.3462",
                "lat": 50.6055,
                "lon": 3.3462,
                "media": [],
            },
            {
                "n": 1,
                "at": "2026-11-29T22:40:00Z",
                "author": "Marc Delattre",
                "kind": "declared",
                "text": "Incident déclaré",
                "lat": None,
                "lon": None,
                "media": [],
            },
        ],
        "version": 1,
    }


class FixtureBoard:
    """The contract's endpoints over a fixed incident #7, served from a thread of its own."""

    def __init__(self) -> None:
        self.data = _incident()
        self.seq = 0
        self.streams: list[asyncio.Queue[str | None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.answers: list[tuple[str, int, str]] = []  # (path, status, body) of every answer
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/board/"

    # --- the endpoints ----------------------------------------------------------------------

    def _refusal(self, code: str) -> web.Response:
        status, message = REFUSALS[code]
        return web.json_response({"error": code, "message": message}, status=status)

    def _signed_in(self, request: web.Request) -> bool:
        return request.cookies.get(COOKIE) == "commander"

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        if "/" in name or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def _session(self, request: web.Request) -> web.Response:
        body = await request.json()
        init = body.get("init_data")
        token = body.get("token")
        if init == STRANGER_INIT:
            return self._refusal("stranger")
        if init is not None and init != VALID_INIT:
            return self._refusal("forged")
        if token is not None and token != "valid":
            return self._refusal("expired" if token == "expired" else "revoked")
        if init is None and token is None:
            return self._refusal("no_credentials")
        response = web.json_response(
            {
                "person": {"id": 1001, "name": "Marc", "language": "fr"},
                "languages": ["fr", "nl"],
                "timezone": "Europe/Brussels",
            }
        )
        response.set_cookie(COOKIE, "commander", httponly=True, samesite="Lax", path="/board")
        return response

    async def _incidents(self, request: web.Request) -> web.Response:
        if not self._signed_in(request):
            return self._refusal("no_credentials")
        i = self.data["incident"]
        summary = {
            key: i[key] for key in ("ref", "title", "status", "severity", "country", "exercise")
        }
        summary["phases"] = i["phases"]
        summary["updated_at"] = i["updated_at"]
        summary["counts"] = {
            "units": len(self.data["units"]),
            "requests": len(self.data["requests"]),
            "alerts": len(self.data["alerts"]),
            "entries": len(self.data["timeline"]),
            "media": 0,
        }
        return web.json_response({"incidents": [summary]})

    async def _incident(self, request: web.Request) -> web.Response:
        if not self._signed_in(request):
            return self._refusal("no_credentials")
        if request.match_info["ref"] != "7":
            return web.json_response({"error": "not_found", "message": "…"}, status=404)
        return web.json_response(self.data)

    async def _geo(self, request: web.Request) -> web.Response:
        border = [[50.7, 2.9], [50.6, 3.2], [50.45, 3.6], [50.3, 4.0]]
        towns = [
            {"name": "Tournai", "lat": 50.6056, "lon": 3.3878, "country": "BE"},
            {"name": "Lille", "lat": 50.6292, "lon": 3.0573, "country": "FR"},
        ]
        return web.json_response({"border": border, "towns": towns, "tiles_url": ""})

    async def _strings(self, request: web.Request) -> web.Response:
        language = request.query.get("lang", "en")
        return web.json_response({"lang": language, "strings": page_strings(language)})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._signed_in(request):
            return self._refusal("no_credentials")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.streams.append(queue)
        try:
            await response.write(b": hello\n\n")
            while (event := await queue.get()) is not None:
                await response.write(event.encode())
        finally:
            self.streams.remove(queue)
        return response

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if isinstance(response, web.Response) and response.body is not None:
            body = response.body
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
            self.answers.append((request.path, response.status, text))
        return response

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/board/", self._page)
        app.router.add_get("/board/static/{name}", self._static)
        app.router.add_post("/board/api/session", self._session)
        app.router.add_get("/board/api/incidents", self._incidents)
        app.router.add_get("/board/api/incidents/{ref}", self._incident)
        app.router.add_get("/board/api/geo", self._geo)
        app.router.add_get("/board/api/strings", self._strings)
        app.router.add_get("/board/api/events", self._events)
        return app

    # --- what the tests do ------------------------------------------------------------------

    def _call(self, work: Any) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def add_entry(self, text: str, at: str = "2026-11-30T08:10:00Z") -> None:
        """A reply in the group: a new timeline entry, the version bumped, a change sent."""

        async def change() -> None:
            timeline = self.data["timeline"]
            timeline.insert(
                0,
                {
                    "n": len(timeline) + 1,
                    "at": at,
                    "author": "Jan Peeters",
                    "kind": "note",
                    "text": text,
                    "lat": None,
                    "lon": None,
                    "media": [],
                },
            )
            self.data["version"] += 1
            self.publish()

        self._call(change())

    def publish(self) -> None:
        self.seq += 1
        data = json.dumps({"ref": 7, "version": self.data["version"]})
        for queue in self.streams:
            queue.put_nowait(f"id: {self.seq}\nevent: change\ndata: {data}\n\n")

    def cut(self) -> None:
        """A network cut: every open stream ends."""

        async def close() -> None:
            for queue in list(self.streams):
                queue.put_nowait(None)

        self._call(close())

    def open_streams(self) -> int:
        return len(self.streams)

    def start(self) -> None:
        ready = threading.Event()

        async def serve() -> None:
            self.runner = web.AppRunner(self._app())
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(serve())
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        if self.loop is None:
            return

        async def close() -> None:
            for queue in list(self.streams):
                queue.put_nowait(None)
            if self.runner is not None:
                await self.runner.cleanup()

        with contextlib.suppress(Exception):
            self._call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(10)
