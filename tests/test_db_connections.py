"""The database connections lost under a running bot (PostgreSQL): the server ends every
connection of the bot (pg_terminate_backend, the LISTEN one too) while users send updates, or
cannot be reached for a few seconds. The real Application against the simulator.

Expected: no update lost (an update is confirmed to Telegram only once its unit of work
committed), none handled twice, later updates answered, no error message to the users, one
log line for the loss (`event=storage_lost`) and one for its end, and the boards' NOTIFY
listener back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.core.db import PostgresDatabase, StorageLost
from bot.core.db.base import UnitOfWork
from bot.simulator import SimChat, TelegramSimulator
from tests import backends
from tests.harness import Harness

pytestmark = pytest.mark.postgres_only

FAILED = "Something went wrong"


async def terminate_all(url: str) -> int:
    """End every connection to the database at `url` but this one: the bot's pool, its
    LISTEN connection, all. How many were ended."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return sum(1 for row in rows if row[0])


def _notes(url: str) -> dict[str, int]:
    """Timeline entries by text: how many times each note is stored."""
    with backends.SyncPostgres(url) as conn:
        rows = conn.execute(
            "SELECT text, count(*) FROM timeline WHERE text LIKE 'note %' GROUP BY text"
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def _answers(sim: TelegramSimulator, chat: SimChat, pattern: str) -> int:
    return sum(1 for m in sim.bot_messages(chat) if re.search(pattern, m.text or ""))


async def _declare(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de Tournai")
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")
    await h.say(h.commander, h.ops_en, "/incident Exercise, Mons station")


def _assert_each_once(
    h: Harness, url: str, sent: list[str], before: dict[SimChat, int], chats: list[SimChat]
) -> None:
    notes = _notes(url)
    assert {n: notes.get(n, 0) for n in sent} == dict.fromkeys(sent, 1), notes
    for chat in chats:
        assert not any(FAILED in (m.text or "") for m in h.sim.bot_messages(chat))
    # every note answered once (the confirmation of /log: 📝), none twice
    answered = sum(
        sum("📝" in (m.text or "") for m in h.sim.bot_messages(chat)[before[chat] :])
        for chat in chats
    )
    assert answered == len(sent)


def _cut_one_unit(monkeypatch: pytest.MonkeyPatch, url: str, *, after: int) -> list[int]:
    """Once `after` notes are stored, the next update's unit of work has its connection
    ended under it, between its BEGIN and its claim. The updates cut so (one)."""
    claim = UnitOfWork.claim
    cut: list[int] = []

    async def claim_and_cut(unit: UnitOfWork, update_id: int) -> bool:
        if not cut and len(_notes(url)) >= after:
            cut.append(update_id)
            await terminate_all(url)
            await asyncio.sleep(0.2)  # the bot's loop hears the sockets close
        return await claim(unit, update_id)

    monkeypatch.setattr(UnitOfWork, "claim", claim_and_cut)
    return cut


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path, backend: str) -> AsyncIterator[Harness]:
    running = Harness(sim, tmp_path / "lost.db")
    await running.start()
    yield running
    await running.stop()


async def test_updates_survive_every_connection_ended(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot's connections are all ended three times while 24 /log commands come in over
    three chats (few enough per group for Telegram's 20 messages a minute): once inside an
    update's unit of work (after its BEGIN, before its claim), twice at random moments. Each
    note is stored once and answered; the LISTEN connection is back and hears another
    instance's commit."""
    url = backends.current
    assert url is not None
    await _declare(h)
    chats = [h.ops, h.ops_fr, h.ops_en]
    users = [h.commander, h.commander_fr, h.commander]
    before = {chat: len(h.sim.bot_messages(chat)) for chat in chats}

    cut = _cut_one_unit(monkeypatch, url, after=5)
    caplog.set_level(logging.INFO)
    sent = []
    for n in range(24):
        chat, user = chats[n % 3], users[n % 3]
        text = f"note {n:02d}"
        sent.append(text)
        await h.sim.send_text(user, chat, f"/log {text}")
        if n in (11, 18):
            await asyncio.sleep(0.05)
            assert await terminate_all(url) > 0
        await asyncio.sleep(0.02)
    await h.settle()
    assert cut, "no update's unit of work was cut"

    _assert_each_once(h, url, sent, before, chats)
    lost = [r for r in caplog.records if "event=storage_lost" in r.getMessage()]
    assert lost, "the loss was not logged"
    assert any("event=update_retry" in r.getMessage() for r in caplog.records)

    # later updates are answered as usual
    await h.say(h.commander, h.ops_en, "/log note after")
    assert _notes(url)["note after"] == 1

    # the boards' listener: listening again, it hears another instance's commit
    db = h.runtime.db
    assert isinstance(db, PostgresDatabase)
    await db.data_version()  # opens the LISTEN connection again
    seen = await db.data_version()
    other = PostgresDatabase(url)
    await other.open()
    try:
        async with other.unit() as unit:
            await unit.execute("UPDATE incidents SET title = title WHERE id = 1")
    finally:
        await other.close()
    for _ in range(100):
        if await db.data_version() != seen:
            break
        await asyncio.sleep(0.05)
    assert await db.data_version() != seen, "the other instance's commit was not heard"


async def test_webhook_updates_survive_every_connection_ended(
    sim: TelegramSimulator, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Webhook mode: the 200 waits while the update is handled again; every connection ended
    three times while 12 commands arrive (once inside a unit of work): each stored once,
    answered once."""
    url = backends.current
    assert url is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    h = Harness(
        sim,
        tmp_path / "hook.db",
        telegram={"token": "123456:TEST-token", "mode": "webhook"},
        webhook={
            "listen": "127.0.0.1",
            "port": port,
            "url_path": "tg",
            "url": f"http://127.0.0.1:{port}/tg",
            "secret_token": "s3cret-token",
        },
    )
    await h.start()
    try:
        await _declare(h)
        chats = [h.ops, h.ops_fr, h.ops_en]
        users = [h.commander, h.commander_fr, h.commander]
        before = {chat: len(sim.bot_messages(chat)) for chat in chats}
        cut = _cut_one_unit(monkeypatch, url, after=2)
        sent = []
        for n in range(12):
            sent.append(f"note {n:02d}")
            await sim.send_text(users[n % 3], chats[n % 3], f"/log note {n:02d}")
            if n in (4, 8):
                assert await terminate_all(url) > 0
            await asyncio.sleep(0.02)
        await h.settle()
        assert cut, "no update's unit of work was cut"
        _assert_each_once(h, url, sent, before, chats)
    finally:
        await h.stop()


async def test_an_update_whose_commit_answer_was_lost_has_its_effect_once(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ambiguous case: the COMMIT landed, the connection died before its answer. The update
    is handled again; its claim stops it: the note is stored once, no error shown."""
    url = backends.current
    assert url is not None
    await _declare(h)
    db = h.runtime.db
    assert isinstance(db, PostgresDatabase)
    end = PostgresDatabase._end
    cut: list[bool] = []

    async def commit_then_lose_the_answer(self: PostgresDatabase, unit: Any, how: str) -> None:
        await end(self, unit, how)
        if how == "COMMIT" and not cut and "note 07" in _notes(url):
            cut.append(True)
            raise self.lost(ConnectionResetError("answer lost"), ambiguous=True)

    monkeypatch.setattr(PostgresDatabase, "_end", commit_then_lose_the_answer)
    for n in range(6, 9):
        await h.sim.send_text(h.commander, h.ops, f"/log note {n:02d}")
    await h.settle()
    assert cut
    assert _notes(url) == {"note 06": 1, "note 07": 1, "note 08": 1}
    assert not any(FAILED in (m.text or "") for m in h.sim.bot_messages(h.ops))


# --- the server unreachable for a while ------------------------------------------------------


class Proxy:
    """A TCP relay to the PostgreSQL server, which can be cut: every connection through it
    closed, and new ones refused, until restored."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def stop(self) -> None:
        if self._server is not None:
            await self.cut()


async def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check(), what


async def test_the_server_unreachable_for_seconds(
    sim: TelegramSimulator, tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every connection cut and the server refused for about 5 s while users send updates:
    long enough for the polling lease to run out, so the bot stops polling (the updates sent
    then stay with Telegram) and takes the lease again once the server is back. The bot keeps
    running, logs the loss once and its end once, and answers everything once."""
    url = backends.current
    assert url is not None
    parts = urlsplit(url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    through = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.listen_port}"))
    h = Harness(sim, tmp_path / "down.db", storage={"path": str(tmp_path / "x.db"), "url": through})
    await h.start()
    try:
        await _declare(h)
        before = {h.ops: len(sim.bot_messages(h.ops))}
        caplog.set_level(logging.INFO)
        await proxy.cut()
        sent = []
        for n in range(5):
            sent.append(f"note {n:02d}")
            await sim.send_text(h.commander, h.ops, f"/log note {n:02d}")
            await asyncio.sleep(0.5)
        # nothing stored, so nothing confirmed to Telegram, nothing answered
        assert _notes(url) == {}
        assert len(sim.bot_messages(h.ops)) == before[h.ops]
        assert sim.world.updates.pending
        leader = h.runtime.leader
        assert leader is not None
        await _until(lambda: not leader.is_leading, 8, "the lease did not run out")
        for n in range(5, 7):  # not fetched meanwhile: nothing polls
            sent.append(f"note {n:02d}")
            await sim.send_text(h.commander, h.ops, f"/log note {n:02d}")
        await proxy.start()  # the server is back, at the same address
        await _until(leader.leading.is_set, 10, "polling did not start again")
        await _until(lambda: len(_notes(url)) == len(sent), 20, "not every note was stored")
        await h.settle()
        _assert_each_once(h, url, sent, before, [h.ops])
        messages = [r.getMessage() for r in caplog.records]
        assert sum("event=storage_lost" in m for m in messages) == 1, messages
        assert sum("event=storage_back" in m for m in messages) == 1, messages
        await h.say(h.commander, h.ops, "/log note after")
        assert _notes(url)["note after"] == 1
    finally:
        await h.stop()
        await proxy.stop()


async def test_a_unit_begun_on_a_dead_connection_is_begun_again(backend: str) -> None:
    """Idle pooled connections ended by the server: the next unit and read work at once (the
    pool's connections replaced), with no error to their callers."""
    url = backends.current
    assert url is not None
    db = PostgresDatabase(url)
    await db.open()
    try:
        async with db.unit() as unit:
            await unit.execute("UPDATE incidents SET title = title WHERE id = 0")
        await terminate_all(url)
        async with db.unit() as unit:
            await unit.execute("UPDATE incidents SET title = title WHERE id = 0")
        await terminate_all(url)
        async with db.read() as tx:
            assert await tx.one("SELECT 1") is not None
        # a unit cut in its middle is StorageLost, undone, and the next one works
        with pytest.raises(StorageLost) as lost:
            async with db.unit() as unit:
                await unit.execute("INSERT INTO processed_updates (update_id, at) VALUES (1, 'x')")
                await terminate_all(url)
                await asyncio.sleep(0.1)
                await unit.execute("INSERT INTO processed_updates (update_id, at) VALUES (2, 'x')")
        assert not lost.value.ambiguous
        async with db.read() as tx:
            assert await tx.all("SELECT update_id FROM processed_updates") == []
    finally:
        await db.close()
