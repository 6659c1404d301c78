"""HTTP transport: tornado handlers, request decoding, method dispatch and Telegram's answers."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import socket
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from .errors import ApiError
from .faults import FaultInjector
from .methods import METHODS, BotApi, Params, UploadedFile
from .state import JsonDict, SimCall, World

logger = logging.getLogger(__name__)


class Dispatcher:
    """Turns one decoded request into (HTTP status, Telegram JSON body), recording the call."""

    def __init__(self, world: World, api: BotApi, faults: FaultInjector) -> None:
        self.world = world
        self.api = api
        self.faults = faults

    async def handle(
        self,
        token: str,
        method: str,
        raw: JsonDict,
        files: dict[str, UploadedFile],
        client: str = "",
    ) -> tuple[int, JsonDict]:
        entry = METHODS.get(method.lower())
        name = entry[0] if entry is not None else method
        call = SimCall(name, raw, 0, self.world.clock(), files=sorted(files), client=client)
        self.world.calls.append(call)
        if token != self.world.token or entry is None:
            error = ApiError(401 if token != self.world.token else 404)
            call.status, call.description = error.status, error.description
            return error.status, error.payload()
        handler = entry[1]
        try:
            result = await self._run(name, handler, Params(raw, files))
        except ApiError as exc:
            call.status, call.description = exc.status, exc.description
            return exc.status, exc.payload()
        call.status, call.result = 200, result
        return 200, {"ok": True, "result": result}

    async def _run(self, name: str, handler: Any, params: Params) -> Any:
        fault = self.faults.take(name, params.raw)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            error = fault.error()
            if error is not None:
                # Faulted calls fail before touching any state.
                self.faults.injected += 1
                raise error
        result = handler(self.api, params)
        if inspect.isawaitable(result):
            result = await result
        return result


def _decode_request(request: Any) -> tuple[JsonDict, dict[str, UploadedFile]]:
    raw: JsonDict = {}
    for key, values in request.query_arguments.items():
        raw[key] = values[-1].decode("utf-8", "replace")
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json") and request.body:
        try:
            body = json.loads(request.body)
        except ValueError:
            raise ApiError(400, "can't parse JSON request body") from None
        if isinstance(body, dict):
            raw.update(body)
    else:
        # tornado has already parsed urlencoded and multipart bodies.
        for key, values in request.body_arguments.items():
            raw[key] = values[-1].decode("utf-8", "replace")
    files = {
        key: UploadedFile(parts[-1].filename or None, parts[-1].body, parts[-1].content_type)
        for key, parts in request.files.items()
    }
    return raw, files


class ApiHandler(tornado.web.RequestHandler):
    def initialize(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def check_etag_header(self) -> bool:
        return False

    async def get(self, token: str, method: str, client: str = "") -> None:
        await self.post(token, method, client)

    async def post(self, token: str, method: str, client: str = "") -> None:
        try:
            raw, files = _decode_request(self.request)
        except ApiError as exc:
            status, body = exc.status, exc.payload()
        else:
            status, body = await self.dispatcher.handle(token, method, raw, files, client)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))


# Recorded in World.downloads for a download whose client left before the answer (nginx's 499).
CLIENT_GONE = 499


class FileHandler(tornado.web.RequestHandler):
    """Serves files at base_file_url + token + "/" + file_path, like Telegram.

    Faults for the pseudo-method "download" apply (``sim.fail_download``): an error status
    answers Telegram's error JSON, a delay answers late. A file that is ``gone`` answers 404.
    Each successful download counts in ``SimFile.downloads``; one whose client left during a
    delay (timed out, killed) does not, and is recorded with status 499.
    """

    def initialize(self, world: World, faults: FaultInjector) -> None:
        self.world = world
        self.faults = faults
        self.gone = False

    def on_connection_close(self) -> None:
        # the client went away (gave up, or was killed) before the answer
        self.gone = True

    def check_etag_header(self) -> bool:
        return False

    async def get(self, token: str, path: str, client: str = "") -> None:
        stored = self.world.file_at(path)
        fault = self.faults.take(
            "download", {"file_id": stored.file_id if stored is not None else None}
        )
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if self.gone:
            self.world.downloads.append((path, CLIENT_GONE))
            return
        error: ApiError | None = None
        if token != self.world.token or stored is None or stored.gone:
            error = ApiError(404)
        elif fault is not None:
            error = fault.error()
            if error is not None:
                self.faults.injected += 1
        self.world.downloads.append((path, error.status if error is not None else 200))
        if error is not None or stored is None:
            error = error or ApiError(404)
            self.set_status(error.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(error.payload()))
            return
        stored.downloads += 1
        self.set_header("Content-Type", stored.mime_type or "application/octet-stream")
        self.finish(stored.data)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # Expected 4xx answers are the point of many tests; keep them out of warning logs.
    logger.debug("%s %s %s", handler.get_status(), handler.request.method, handler.request.uri)


# A first path segment before /bot… or /file/bot… names the client (SimCall.client): several
# processes of one bot, told apart (TelegramSimulator.base_url_for).
CLIENT = r"/(?P<client>[A-Za-z0-9_.-]+)"


class ApiServer:
    """The tornado HTTP server bound to 127.0.0.1."""

    def __init__(self, world: World, dispatcher: Dispatcher) -> None:
        api = {"dispatcher": dispatcher}
        files = {"world": world, "faults": dispatcher.faults}
        self.app = tornado.web.Application(
            [
                (r"/file/bot(?P<token>[^/]+)/(?P<path>.+)", FileHandler, files),
                (r"/bot(?P<token>[^/]+)/(?P<method>\w+)", ApiHandler, api),
                (CLIENT + r"/file/bot(?P<token>[^/]+)/(?P<path>.+)", FileHandler, files),
                (CLIENT + r"/bot(?P<token>[^/]+)/(?P<method>\w+)", ApiHandler, api),
            ],
            log_function=_log_request,
        )
        self.server: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    def start(self, port: int = 0) -> int:
        sockets: list[socket.socket] = tornado.netutil.bind_sockets(port, "127.0.0.1")
        self.server = tornado.httpserver.HTTPServer(self.app, max_body_size=60 * 1024 * 1024)
        self.server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.stop()
        await self.server.close_all_connections()
        self.server = None
