"""The one web server (aiohttp): the situation board and, in webhook mode, Telegram's webhook.

Routes and answers are docs/board.md's "The HTTP interface". Every request that reads incidents
is one read transaction, after its session is checked; whoever may not see an incident gets the
same 404 as for one that does not exist. Bad input is a JSON 400 (413 for a body or query over
the limits), an unexpected failure a JSON 500 logged here: never a traceback in an answer.

Telegram's webhook (when `webhook` is given): `POST /<path>` with the secret token header, the
update handed to `webhook` (the application's update queue, which answers once the update is
handled): python-telegram-bot's custom-webhook pattern, with its own web server left unused.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import mimetypes
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.board import access, views
from bot.board.access import Access, Viewer
from bot.board.auth import (
    COOKIE,
    Refusal,
    Refused,
    Session,
    seal,
    start_incident,
    unseal,
    verify_init_data,
)
from bot.board.have_route import HaveRoute
from bot.board.hub import RESYNC, Event, Hub
from bot.core.config import Settings
from bot.core.db import Database, StorageLost, Tx
from bot.core.directory import person_in
from bot.core.i18n import N_, normalize_language, translator
from bot.core.models import LANGUAGES
from bot.evidence import service as evidence
from bot.incidents import service as incidents
from bot.reports.thumbnails import thumbnail_of

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 8 * 1024  # bytes: a session request (initData is well under 4 KiB)
MAX_WEBHOOK_BODY = 1024 * 1024  # an update
MAX_QUERY = 1024  # characters of a query string
KEEP_ALIVE = 15.0  # seconds between the event stream's comments
THUMBNAILS_KEPT = 64  # photos' thumbnails kept in memory
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}")
_REF = re.compile(r"[0-9]{1,12}")
_EVENT_ID = re.compile(r"[0-9]{1,20}")

# what a refusal says, in the reader's language
REFUSALS: dict[Refusal, str] = {
    Refusal.NO_CREDENTIALS: N_(
        "Open the board from Telegram: the Board button on an incident card, or /board in a "
        "private chat with the bot."
    ),
    Refusal.FORGED: N_(
        "This link to the board could not be verified. Open it again from Telegram."
    ),
    Refusal.STALE: N_("This link to the board is too old. Open it again from Telegram."),
    Refusal.EXPIRED: N_(
        "This personal link to the board has expired. Ask for a new one with /board in a "
        "private chat with the bot."
    ),
    Refusal.REVOKED: N_(
        "This personal link to the board was revoked. Ask for a new one with /board in a "
        "private chat with the bot."
    ),
    Refusal.STRANGER: N_(
        "The board is for the emergency services working with Passerelle. Ask your liaison "
        "officer to register you."
    ),
}
NOT_FOUND = N_("This incident does not exist, or you may not see it.")
BAD_REQUEST = N_("The board did not understand this request.")
TOO_LARGE = N_("This request to the board is too large.")
FAILED = N_("The board could not answer. Try again in a moment.")

Strings = Callable[[str], dict[str, str]]
Geo = Callable[[str], bytes]
Webhook = Callable[[Any], Awaitable[None]]
TokenState = Callable[[Tx, str], Awaitable[tuple[str, int | None]]]


def no_strings(language: str) -> dict[str, str]:
    return {}


def no_geo(tiles_url: str) -> bytes:
    return json.dumps({"border": [], "towns": [], "tiles_url": tiles_url}).encode()


class _BadRequestsInOneLine(logging.Filter):
    """aiohttp logs a request it cannot parse (a 20 KB address, a header line too long) with
    its traceback, after answering 400: one line is enough for a client's mistake."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and error.code == 400:
            log.info("event=board_bad_request error=%s", type(error).__name__)
            return False
        return True


_QUIET = _BadRequestsInOneLine()


@dataclass(frozen=True)
class WebhookRoute:
    path: str  # without the leading "/"
    secret: str | None
    receive: Webhook  # the decoded update's JSON


class BoardServer:
    """The web server: built, started on its address, stopped (its streams closed)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        tokens: TokenState | None = None,
        strings: Strings = no_strings,
        geo: Geo = no_geo,
        webhook: WebhookRoute | None = None,
        health: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.settings = settings
        self._health = health
        self.db = db
        self.access = Access(db)
        self.hub = Hub(db, self._visible)
        self._tokens = tokens
        self._strings = strings
        self._geo = geo
        self._webhook = webhook
        self._bot_token = settings.token
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._thumbnails: dict[int, bytes] = {}  # item id → JPEG, the latest few
        # (person, language) → (the hub's seq when read, the overview)
        self._overviews: dict[tuple[int, str], tuple[int, dict[str, Any]]] = {}
        self.port: int | None = None
        self.app = self._build()

    # ---- life ----------------------------------------------------------------------------

    def _build(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_WEBHOOK_BODY if self._webhook else MAX_BODY,
            middlewares=[self._guard],
        )
        board = self.settings.board.enabled
        if board:
            app.router.add_get("/board", self._to_slash)
            app.router.add_get("/board/", self._page)
            app.router.add_get("/board/static/{name}", self._static)
            app.router.add_post("/board/api/session", self._session)
            app.router.add_get("/board/api/incidents", self._overview)
            app.router.add_get("/board/api/incidents/{ref}", self._incident)
            app.router.add_get("/board/api/geo", self._geo_route)
            app.router.add_get("/board/api/strings", self._strings_route)
            app.router.add_get("/board/api/events", self._events)
            app.router.add_get("/board/api/media/{item}", self._photo)
        if self._webhook is not None:
            app.router.add_post("/" + self._webhook.path.strip("/"), self._telegram)
        if self._health is not None:
            app.router.add_get("/health", self._health_route)
        if self.settings.have.tokens:
            # hospitals' availability (EDXL-HAVE), one token per hospital
            app.router.add_post("/have", HaveRoute(self.settings.have, self.db).handle)
        return app

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (0: a free port, then in `self.port`) and start the hub."""
        server_log = logging.getLogger("aiohttp.server")
        if _QUIET not in server_log.filters:
            server_log.addFilter(_QUIET)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        self.port = port
        server = site._server  # the asyncio server: which port a 0 became
        if server is not None:
            for sock in getattr(server, "sockets", ()):
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    self.port = int(sock.getsockname()[1])
                    break
        if self.settings.board.enabled:
            await self.hub.start()
        log.info("event=web_server_started address=http://%s:%s", host, self.port)

    async def stop(self) -> None:
        self._closing.set()
        # every open stream is told to resync (its board reconnects) and ends
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- what every request goes through -------------------------------------------------

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            if len(request.query_string) > MAX_QUERY:
                return self._error(request, 413, "too_large", TOO_LARGE)
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = self._error(request, 413, "too_large", TOO_LARGE)
        except web.HTTPNotFound:
            response = self._error(request, 404, "not_found", NOT_FOUND)
        except web.HTTPMethodNotAllowed:
            response = self._error(request, 405, "bad_request", BAD_REQUEST)
        except web.HTTPException as exc:
            if exc.status >= 400:
                response = self._error(request, exc.status, "bad_request", BAD_REQUEST)
            else:
                raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("event=board_error path=%s", request.path)
            response = self._error(request, 500, "failed", FAILED)
        if not response.prepared:
            headers = response.headers
            headers.setdefault("X-Content-Type-Options", "nosniff")
            headers.setdefault("Referrer-Policy", "no-referrer")
            headers.setdefault("Content-Security-Policy", self._csp())
            if request.path.startswith("/board/api/") and request.path != "/board/api/geo":
                headers.setdefault("Cache-Control", "no-store")
        return response

    def _csp(self) -> str:
        images = "'self' data:"
        tiles = self.settings.board.tiles_url
        if tiles:
            scheme, _, rest = tiles.partition("://")
            images += f" {scheme}://{rest.split('/')[0]}"
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'none'"
        )

    def _language(self, request: web.Request, said: str | None = None) -> str:
        """The language of an answer when nobody is signed in: said by the credentials, else
        asked (?lang=), else the browser's, else the default."""
        default = self.settings.i18n.default_language
        for code in (said, request.query.get("lang")):
            if code and normalize_language(code, "") in LANGUAGES:
                return normalize_language(code, default)
        for part in request.headers.get("Accept-Language", "")[:200].split(","):
            code = normalize_language(part.split(";")[0].strip(), "")
            if code in LANGUAGES:
                return code
        return default

    def _error(
        self,
        request: web.Request,
        status: int,
        code: str,
        message: str,
        language: str | None = None,
    ) -> web.Response:
        lang = language or self._language(request)
        return web.json_response(
            {"error": code, "message": translator(lang).gettext(message)},
            status=status,
            headers={"Cache-Control": "no-store"},
        )

    def _refused(self, request: web.Request, refused: Refused) -> web.Response:
        status = 403 if refused.reason is Refusal.STRANGER else 401
        lang = self._language(request, refused.language)
        response = self._error(
            request, status, refused.reason.value, REFUSALS[refused.reason], lang
        )
        response.del_cookie(COOKIE, path="/board")
        return response

    # ---- sessions ------------------------------------------------------------------------

    async def _session(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json(loads=json.loads)
        except web.HTTPRequestEntityTooLarge:
            raise
        except (ValueError, UnicodeDecodeError):
            return self._error(request, 400, "bad_request", BAD_REQUEST)
        if not isinstance(body, dict):
            return self._error(request, 400, "bad_request", BAD_REQUEST)
        init_data, token = body.get("init_data"), body.get("token")
        board = self.settings.board
        start: int | None = None
        telegram_language: str | None = None
        try:
            if isinstance(init_data, str) and init_data:
                launch = verify_init_data(init_data, self._bot_token, board.init_data_max_age)
                person_id, held = launch.user.id, None
                telegram_language = launch.user.language_code
                start = start_incident(launch.start_param)
            elif isinstance(token, str) and token:
                person_id = await self._token_person(token)
                held = token
            else:
                raise Refused(Refusal.NO_CREDENTIALS)
            async with self.db.read() as tx:
                person = await person_in(tx, person_id)
            if person is None:
                raise Refused(Refusal.STRANGER, telegram_language)
        except Refused as refused:
            log.info("event=board_refused reason=%s", refused.reason.value)
            return self._refused(request, refused)
        viewer = await self.access.viewer(person.id)
        assert viewer is not None
        language = person.language or normalize_language(
            telegram_language or person.telegram_language, self.settings.i18n.default_language
        )
        expires = int(time.time() + board.session_hours * 3600)
        value = seal(Session(person_id=person.id, expires=expires, token=held), self._bot_token)
        response = web.json_response(
            {
                "person": {"id": person.id, "name": person.name, "language": language},
                "languages": _languages(language, viewer),
                "timezone": self.settings.i18n.timezone,
                "incident": start,
            }
        )
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(board.session_hours * 3600),
            path="/board",
            httponly=True,
            samesite="Lax",
            secure=self.settings.board_url.startswith("https://"),
        )
        log.info("event=board_session person=%d way=%s", person.id, "token" if held else "telegram")
        return response

    async def _token_person(self, token: str) -> int:
        if self._tokens is None:
            raise Refused(Refusal.FORGED)
        async with self.db.read() as tx:
            state, person_id = await self._tokens(tx, token)
        if state == "valid" and person_id is not None:
            return person_id
        if state == "expired":
            raise Refused(Refusal.EXPIRED)
        if state == "revoked":
            raise Refused(Refusal.REVOKED)
        raise Refused(Refusal.FORGED)

    async def _viewer(self, request: web.Request) -> Viewer:
        """The signed-in viewer, or `Refused` (the request answers 401/403)."""
        session = unseal(request.cookies.get(COOKIE), self._bot_token)
        if session is None:
            raise Refused(Refusal.NO_CREDENTIALS)
        if session.token is not None:
            await self._token_person(session.token)  # revoked or expired since: ended
        viewer = await self.access.viewer(session.person_id)
        if viewer is None:
            raise Refused(Refusal.STRANGER)
        return viewer

    def _translator_for(self, request: web.Request, viewer: Viewer) -> Any:
        asked = request.query.get("lang")
        if asked in LANGUAGES:
            return translator(asked)
        return translator(viewer.person.reads(self.settings.i18n.default_language))

    async def _visible(self, person_id: int, refs: set[int]) -> set[int]:
        return await self.access.visible(person_id, refs)

    # ---- the page and its assets ---------------------------------------------------------

    async def _to_slash(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/board/")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return self._file(STATIC / "index.html", cache=False)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not _STATIC_NAME.fullmatch(name) or ".." in name:
            raise web.HTTPNotFound()
        return self._file(STATIC / name, cache=True)

    def _file(self, path: Path, cache: bool) -> web.StreamResponse:
        if not path.is_file():
            raise web.HTTPNotFound()
        kind = {
            ".js": "text/javascript",
            ".mjs": "text/javascript",
            ".css": "text/css",
            ".html": "text/html",
            ".svg": "image/svg+xml",
            ".json": "application/json",
        }.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        headers = {"Cache-Control": "no-cache" if cache else "no-store"}
        if kind is not None:
            charset = "; charset=utf-8" if kind.startswith("text/") else ""
            headers["Content-Type"] = kind + charset
        return web.FileResponse(path, headers=headers)

    # ---- the API -------------------------------------------------------------------------

    async def _overview(self, request: web.Request) -> web.StreamResponse:
        try:
            viewer = await self._viewer(request)
        except Refused as refused:
            return self._refused(request, refused)
        tr = self._translator_for(request, viewer)
        # the same overview until the hub publishes a change (every board refetches on one)
        key = (viewer.person.id, tr.language)
        cached = self._overviews.get(key)
        if cached is not None and cached[0] == self.hub.seq:
            return web.json_response(cached[1])
        seq = self.hub.seq
        # read apart: hundreds of incidents must not hold the bot's updates back
        async with self.db.read_apart() as tx:
            data = await views.overview_in(tx, viewer, tr)
        if len(self._overviews) > 1000:
            self._overviews.clear()
        self._overviews[key] = (seq, data)
        return web.json_response(data)

    async def _incident(self, request: web.Request) -> web.StreamResponse:
        try:
            viewer = await self._viewer(request)
        except Refused as refused:
            return self._refused(request, refused)
        raw = request.match_info["ref"]
        tr = self._translator_for(request, viewer)
        if not _REF.fullmatch(raw):
            return self._error(request, 400, "bad_request", BAD_REQUEST, tr.language)
        ref = int(raw)
        async with self.db.read() as tx:
            incident = await incidents.incident_in(tx, ref)
            if incident is None or not await access.may_see_in(tx, viewer, ref):
                data = None
            else:
                data = await views.incident_page_in(
                    tx, incident, tr, self.settings.i18n.timezone, self.settings.sites.near_km
                )
        if data is None:
            return self._error(request, 404, "not_found", NOT_FOUND, tr.language)
        return web.json_response(data)

    async def _photo(self, request: web.Request) -> web.StreamResponse:
        """A kept photo's thumbnail (resized, upright, without its metadata), for whoever may
        see its incident; the same 404 otherwise."""
        try:
            viewer = await self._viewer(request)
        except Refused as refused:
            return self._refused(request, refused)
        raw = request.match_info["item"]
        if not _REF.fullmatch(raw):
            return self._error(request, 400, "bad_request", BAD_REQUEST)
        item_id = int(raw)
        async with self.db.read() as tx:
            found = await views.photo_in(tx, item_id)
            allowed = found is not None and await access.may_see_in(tx, viewer, found[0])
        if found is None or not allowed:
            return self._error(request, 404, "not_found", NOT_FOUND)
        data = self._thumbnails.get(item_id)
        if data is None:
            path = evidence.folder(self.settings) / found[1]
            data = await asyncio.to_thread(thumbnail_of, path)
            if data is None:
                return self._error(request, 404, "not_found", NOT_FOUND)
            if len(self._thumbnails) >= THUMBNAILS_KEPT:
                self._thumbnails.pop(next(iter(self._thumbnails)))
            self._thumbnails[item_id] = data
        return web.Response(
            body=data,
            content_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=86400"},
        )

    async def _geo_route(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._viewer(request)
        except Refused as refused:
            return self._refused(request, refused)
        return web.Response(
            body=self._geo(self.settings.board.tiles_url),
            content_type="application/json",
            headers={"Cache-Control": "private, max-age=3600"},
        )

    async def _strings_route(self, request: web.Request) -> web.StreamResponse:
        asked = request.query.get("lang", "")
        lang = asked if asked in LANGUAGES else self._language(request)
        return web.json_response({"lang": lang, "strings": self._strings(lang)})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        try:
            viewer = await self._viewer(request)
        except Refused as refused:
            return self._refused(request, refused)
        person_id = viewer.person.id
        raw_last = request.headers.get("Last-Event-ID") or request.query.get("last", "")
        missed: list[Event] | None = []
        if raw_last:
            missed = (
                await self.hub.missed(person_id, int(raw_last))
                if _EVENT_ID.fullmatch(raw_last)
                else None
            )
        subscriber = self.hub.subscribe(person_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a reverse proxy passes each event on at once
            }
        )
        try:
            await response.prepare(request)
            # the board reconnects after 1 s if the stream ends; it says it is live at once
            await response.write(f"retry: 1000\n: live {self.hub.seq}\n\n".encode())
            if missed is None:
                await response.write(_resync(self.hub.seq))
            else:
                for event in missed:
                    await response.write(_change(event))
            while not self._closing.is_set():
                try:
                    item = await asyncio.wait_for(subscriber.queue.get(), timeout=KEEP_ALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item == RESYNC:
                    await response.write(_resync(self.hub.seq))
                elif isinstance(item, Event):
                    await response.write(_change(item))
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.hub.unsubscribe(subscriber)
        return response

    # ---- Telegram's webhook --------------------------------------------------------------

    async def _health_route(self, request: web.Request) -> web.StreamResponse:
        """This instance, what it leads, the other instances' heartbeats (JSON); 503 when the
        database does not answer (a load balancer then sends the updates elsewhere)."""
        assert self._health is not None
        try:
            found = await self._health()
        except Exception as exc:
            log.warning("event=health_failed error=%r", exc)
            return web.json_response(
                {"ok": False, "error": type(exc).__name__},
                status=503,
                headers={"Cache-Control": "no-store"},
            )
        return web.json_response({"ok": True, **found}, headers={"Cache-Control": "no-store"})

    async def _telegram(self, request: web.Request) -> web.StreamResponse:
        hook = self._webhook
        assert hook is not None
        if hook.secret is not None:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), hook.secret.encode()):
                log.warning("event=webhook_refused reason=secret")
                return web.Response(status=403)
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            log.warning("event=webhook_refused reason=not_an_update")
            return web.Response(status=400)
        try:
            await hook.receive(data)
        except (KeyError, TypeError, ValueError) as exc:  # not an update python-telegram-bot reads
            log.warning("event=webhook_refused reason=unreadable error=%s", type(exc).__name__)
            return web.Response(status=400)
        except StorageLost:
            # stopping while the database was lost: not stored, Telegram delivers it again
            return web.Response(status=503)
        return web.Response(status=200)


def _languages(first: str, viewer: Viewer) -> list[str]:
    found = [first]
    for language in viewer.chat_languages:
        if language in LANGUAGES and language not in found:
            found.append(language)
    return found


def _change(event: Event) -> bytes:
    data = json.dumps({"ref": event.ref, "version": event.version})
    return f"id: {event.seq}\nevent: change\ndata: {data}\n\n".encode()


def _resync(seq: int) -> bytes:
    return f"id: {seq}\nevent: resync\ndata: {{}}\n\n".encode()
