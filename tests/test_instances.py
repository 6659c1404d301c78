"""Several instances on one database (issue 15): leases, the polling leader and its failover,
one outbox sent by two instances, scheduled work done once, /health.

The instances share one database (one SQLite file, or one PostgreSQL database: the `backend`
fixture runs each test on both): as separate `python -m bot` processes (the polling failover,
killed with SIGKILL) or as several Applications in this process."""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import shared_run
from bot.cluster import leases
from bot.cluster.leases import Leases
from bot.core import logs
from bot.core.config import StorageSettings
from bot.core.db import Database, database_for, to_db_time, utcnow
from bot.core.effects import Live, LiveKind
from bot.core.models import OfferStatus
from bot.delivery import outbox
from bot.resources import requests, roster_csv, units
from bot.simulator import TelegramSimulator
from handlers import roster
from handlers.context import PContext
from tests import backends
from tests.conftest import AGENCY_FLUVIA, AGENCY_SDIS59, AGENCY_WAPI
from tests.harness import Harness
from tests.reliability.crash_harness import OPS, TOKEN, Bot, Scenario, _config
from tests.test_e2e_resources import ROSTER, _located_incident

pytestmark = pytest.mark.both_backends


def _database(path: Path) -> Database:
    return database_for(StorageSettings(**backends.storage(path)))


# --- leases ---------------------------------------------------------------------------------


@pytest.fixture
async def db(tmp_path: Path, backend: str) -> AsyncIterator[Database]:
    database = _database(tmp_path / "leases.db")
    await database.open()
    yield database
    await database.close()


async def test_a_lease_is_one_holders_until_it_runs_out(db: Database) -> None:
    a, b = Leases(db, "a"), Leases(db, "b")
    assert await a.acquire("polling", 0.3)
    assert not await b.acquire("polling", 5)
    assert await a.renew("polling", 0.3)  # the holder renews
    await asyncio.sleep(0.4)
    assert await b.acquire("polling", 5)  # ran out: anyone's
    assert not await a.acquire("polling", 5)
    await a.release("polling")  # not a's: nothing happens
    assert not await a.acquire("polling", 5)
    await b.release("polling")
    assert await a.acquire("polling", 5)
    async with db.read() as tx:
        held = await leases.holder_of(tx, "polling")
    assert held is not None and held.holder == "a"


async def test_a_lease_taken_in_a_unit_of_work_goes_with_it(db: Database) -> None:
    until = utcnow() + timedelta(days=1)
    with pytest.raises(RuntimeError):
        async with db.unit() as unit:
            assert await leases.take(unit, "job:rollcall:2026-11-30", "a", until)
            raise RuntimeError("the run failed (its instance died)")
    async with db.unit() as unit:  # the claim went with the run: another takes it
        assert await leases.take(unit, "job:rollcall:2026-11-30", "b", until)
    async with db.unit() as unit:
        assert not await leases.take(unit, "job:rollcall:2026-11-30", "a", until)


async def test_two_connections_racing_for_one_lease_get_one_holder(
    tmp_path: Path, backend: str
) -> None:
    first = _database(tmp_path / "race.db")
    await first.open()
    second = _database(tmp_path / "race.db")
    await second.open()
    try:
        for round_ in range(20):
            name = f"race:{round_}"
            got = await asyncio.gather(
                Leases(first, "a").acquire(name, 5), Leases(second, "b").acquire(name, 5)
            )
            assert sorted(got) == [False, True]
    finally:
        await first.close()
        await second.close()


# --- polling: one leader, failover ----------------------------------------------------------


def _instance_config(sim: TelegramSimulator, db_path: Path, name: str) -> str:
    return _config(sim, db_path, backends.current, instance=name) + "\n[board]\nenabled = false\n"


def _incidents(db_path: Path) -> dict[str, int]:
    with closing(backends.reader(db_path)) as conn:
        rows = conn.execute("SELECT title, count(*) FROM incidents GROUP BY title").fetchall()
    return {row[0]: row[1] for row in rows}


def _polling_holder(db_path: Path) -> str | None:
    try:
        with closing(backends.reader(db_path)) as conn:
            row = conn.execute(
                "SELECT holder FROM leases WHERE name = 'polling' AND expires_at >= ?",
                (to_db_time(utcnow()),),
            ).fetchone()
    except Exception:  # the SQLite file not created (or migrated) yet
        return None
    return row[0] if row else None


async def _until(check: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.05)


async def test_one_instance_polls_and_another_takes_over_when_it_is_killed(
    tmp_path: Path, backend: str
) -> None:
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_crash_bot")
    await sim.start()
    scenario = Scenario(sim, random.Random(3))
    db_path = tmp_path / "shared.db"
    bots = {}
    for name in ("a", "b"):
        config = tmp_path / f"{name}.toml"
        config.write_text(_instance_config(sim, db_path, name), encoding="utf-8")
        bots[name] = Bot(config, tmp_path / f"{name}.log")
    sent: list[str] = []

    async def send(count: int) -> None:
        for _ in range(count):
            title = f"F{len(sent)}"
            g = len(sent) % len(OPS)
            await sim.send_text(scenario.commanders[g], scenario.ops[g], f"/incident {title}")
            sent.append(title)
            await asyncio.sleep(0.03)

    try:
        await bots["a"].start()
        await _until(lambda: _polling_holder(db_path) == "a", 30, "a polls")
        await bots["b"].start()
        await _until(lambda: "event=instance_started" in bots["b"].log.read_text(), 30, "b up")
        await send(20)
        await asyncio.sleep(3)  # b tries the lease every second meanwhile
        assert _polling_holder(db_path) == "a"
        assert "polling_lead_taken" not in bots["b"].log.read_text()
        # two pollers would end each other's getUpdates with 409 Conflict
        assert sim.count_status(409, "getUpdates") == 0

        # the leader dies with updates on the way
        sending = asyncio.create_task(send(40))
        await asyncio.sleep(0.4)
        await bots["a"].kill()
        killed = time.time()
        calls_before = len(sim.calls)
        await _until(
            lambda: any(c.method == "getUpdates" for c in sim.calls[calls_before:]),
            15,
            "b polls",
        )
        first_poll = next(c for c in sim.calls[calls_before:] if c.method == "getUpdates")
        takeover = first_poll.time - killed
        print(f"takeover after SIGKILL: {takeover:.2f} s")
        assert takeover < 10, f"the takeover took {takeover:.1f} s"
        assert _polling_holder(db_path) == "b"
        await sending
        await send(10)
        await _until(lambda: not sim.world.updates.pending, 30, "every update confirmed")
        await _until(lambda: len(_incidents(db_path)) == len(sent), 30, "every update handled")
        found = _incidents(db_path)
        assert set(found) == set(sent), "an update was lost"
        assert set(found.values()) == {1}, "an update had its effect twice"
        # at most the dead leader's own getUpdates, still open when b began polling
        assert sim.count_status(409, "getUpdates") <= 1
    finally:
        for bot in bots.values():
            if bot.process is not None:
                await bot.stop()
        await sim.stop()


# --- in-process instances on one file -------------------------------------------------------


@pytest.fixture
async def limited_sim() -> AsyncIterator[TelegramSimulator]:
    """Telegram's flood limits enforced: ~30 messages/s overall, sliding window."""
    simulator = TelegramSimulator(
        token="123456:TEST-token", bot_username="passerelle_test_bot", enforce_limits=True
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def pair(
    limited_sim: TelegramSimulator, tmp_path: Path, backend: str
) -> AsyncIterator[tuple[Harness, Harness]]:
    db_path = tmp_path / "pair.db"
    a = Harness(limited_sim, db_path, agencies=True, instance={"name": "a"})
    b = Harness(limited_sim, db_path, agencies=True, instance={"name": "b"})
    await a.start()
    await b.start(lead=False)
    try:
        yield a, b
    finally:
        await b.stop()
        await a.stop()


async def test_two_instances_send_one_outbox_once_in_order_at_telegrams_pace(
    limited_sim: TelegramSimulator, pair: tuple[Harness, Harness]
) -> None:
    a, b = pair
    sim = limited_sim
    chats = [sim.add_chat(-100600 - i, "supergroup", title=f"Chat {i}") for i in range(60)]
    # each learns from the heartbeats that two share the pace
    await _until(
        lambda: (
            a.runtime.presence is not None
            and b.runtime.presence is not None
            and a.runtime.presence.alive == 2
            and b.runtime.presence.alive == 2
        ),
        10,
        "both instances see each other",
    )
    sent_before = len(sim.calls)
    per_chat = 3
    async with a.runtime.db.unit() as unit:
        for number in range(per_chat):
            for chat in chats:
                await outbox.enqueue(
                    unit, chat_id=chat.id, html=f"m{number}", purpose="notice", key=None
                )
    a.runtime.outbox.wake()
    b.runtime.outbox.wake()
    await asyncio.gather(a.runtime.outbox.drained(60), b.runtime.outbox.drained(60))
    for chat in chats:
        texts = [m.text for m in sim.bot_messages(chat)]
        assert texts == [f"m{n}" for n in range(per_chat)], (chat.id, texts)
    sends = [
        c.time for c in sim.calls[sent_before:] if c.method == "sendMessage" and c.status == 200
    ]
    assert len(sends) == per_chat * len(chats)
    # both instances sent, and together they kept Telegram's overall pace
    assert a.runtime.outbox.sent > 0 and b.runtime.outbox.sent > 0
    assert a.runtime.outbox.sent + b.runtime.outbox.sent == len(sends)
    assert sim.count_status(429) == 0
    busiest = max(sum(1 for t in sends if start <= t < start + 1.0) for start in sends)
    assert busiest <= 30


async def test_a_row_claimed_by_a_dead_instance_is_sent_by_another_after_the_claim(
    pair: tuple[Harness, Harness], limited_sim: TelegramSimulator
) -> None:
    a, b = pair
    chat = limited_sim.add_chat(-100650, "supergroup", title="Late")
    await a.runtime.outbox.stop()  # a "dies" holding the claim
    async with a.runtime.db.unit() as unit:
        row_id = await outbox.enqueue(unit, chat_id=chat.id, html="late", purpose="notice")
        soon = to_db_time(utcnow() + timedelta(seconds=1))
        await unit.execute(
            "UPDATE outbox SET claimed_by = 'a', claimed_until = ? WHERE id = ?", (soon, row_id)
        )
    b.runtime.outbox.wake()
    await asyncio.sleep(0.5)
    assert limited_sim.bot_messages(chat) == []  # a's claim still holds
    await _until(lambda: len(limited_sim.bot_messages(chat)) == 1, 10, "b sends it")
    await asyncio.sleep(0.5)
    assert [m.text for m in limited_sim.bot_messages(chat)] == ["late"]


class _Context:
    """What a job's callback reads of its context."""

    def __init__(self, harness: Harness) -> None:
        self.runtime = harness.runtime


async def test_a_scheduled_job_due_once_runs_once_with_two_instances(
    pair: tuple[Harness, Harness], limited_sim: TelegramSimulator, monkeypatch: Any
) -> None:
    a, b = pair
    runs: list[str] = []
    original = units.rollcall

    async def counted(unit: Any, **kwargs: Any) -> int:
        runs.append("rollcall")
        return await original(unit, **kwargs)

    monkeypatch.setattr(units, "rollcall", counted)
    # both instances' daily jobs fire at the same moment
    await asyncio.gather(
        roster.rollcall_job(_Context(a)),  # type: ignore[arg-type]
        roster.rollcall_job(_Context(b)),  # type: ignore[arg-type]
    )
    assert runs == ["rollcall"]
    await a.settle()
    for chat in (AGENCY_WAPI, AGENCY_SDIS59, AGENCY_FLUVIA):
        assert len(limited_sim.bot_messages(chat)) <= 1

    # a repeating job: one run per period whichever instance ticks first
    ran: list[str] = []

    async def job(context: PContext) -> None:
        ran.append(context.runtime.instance)

    shared = shared_run("test-job", 0.5, job)
    await shared(_Context(a))  # type: ignore[arg-type]
    await shared(_Context(b))  # type: ignore[arg-type]
    assert ran == ["a"]
    # a dies after taking the run's lease: b does the next run once the lease ran out
    await asyncio.sleep(0.45)
    await shared(_Context(b))  # type: ignore[arg-type]
    assert ran == ["a", "b"]


async def test_a_roll_call_whose_instance_died_mid_run_is_done_by_another(
    pair: tuple[Harness, Harness], monkeypatch: Any
) -> None:
    a, b = pair
    original = units.rollcall
    calls: list[int] = []

    async def dies_first(unit: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("instance a lost")  # its unit of work is undone
        return await original(unit, **kwargs)

    monkeypatch.setattr(units, "rollcall", dies_first)
    with pytest.raises(ConnectionError):
        await roster.rollcall_job(_Context(a))  # type: ignore[arg-type]
    await roster.rollcall_job(_Context(b))  # type: ignore[arg-type]
    assert len(calls) == 2
    async with b.runtime.db.read() as tx:
        claims = [lease for lease in await leases.current(tx) if lease.name.startswith("job:roll")]
    assert [lease.holder for lease in claims] == ["b"]


async def test_health_says_who_leads_what(pair: tuple[Harness, Harness]) -> None:
    _, b = pair
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{b.web.port}/health")
    assert answer.status_code == 200
    found = answer.json()
    assert found["ok"] is True
    assert found["this"]["name"] == "b" and found["this"]["polls"] is False
    assert found["polling"] == "a"
    names = {i["name"]: i for i in found["instances"]}
    assert names["a"]["alive"] and names["b"]["alive"]
    assert "polling" in names["a"]["leases"]
    assert found["instances"][0]["name"] == "b"  # the one asked comes first


async def test_a_live_message_asked_of_two_instances_at_once_is_edited_once(
    pair: tuple[Harness, Harness], limited_sim: TelegramSimulator
) -> None:
    a, b = pair
    await a.say(a.commander, a.ops, "/incident Feu de cuve")
    async with a.runtime.db.read() as tx:
        row = await tx.one("SELECT incident_id FROM cards WHERE chat_id = ?", (a.ops.id,))
    assert row is not None
    live = Live(LiveKind.CARD, row["incident_id"], a.ops.id)
    # Telegram slow to answer an edit: each instance would read the card behind meanwhile
    limited_sim.faults.delay("editMessageText", 0.5, times=None)
    for _ in range(3):
        await asyncio.sleep(0.3)  # the last edit's interval is over
        # a change stored (the card's version moved on); each instance is asked to refresh it
        async with b.runtime.db.unit() as unit:
            await unit.execute(
                "UPDATE cards SET version = version + 1 WHERE chat_id = ?", (a.ops.id,)
            )
        calls = len(limited_sim.calls)
        a.runtime.live.touch(live)
        b.runtime.live.touch(live)
        await asyncio.gather(a.runtime.live.idle(), b.runtime.live.idle())
        edits = [c for c in limited_sim.calls[calls:] if c.method == "editMessageText"]
        assert len(edits) == 1
    async with a.runtime.db.read() as tx:
        card = await tx.one(
            "SELECT version, shown_version FROM cards WHERE chat_id = ?", (a.ops.id,)
        )
    assert card is not None and card["shown_version"] == card["version"]


async def test_an_offer_whose_instance_died_times_out_on_another(
    sim: TelegramSimulator, tmp_path: Path, backend: str
) -> None:
    db_path = tmp_path / "offers.db"
    settings: dict[str, Any] = {
        "agencies": True,
        "requests": {"extra_offers": 0, "offer_timeout_minutes": 0.02},  # 1.2 s
    }
    a = Harness(sim, db_path, instance={"name": "a"}, **settings)
    b = Harness(sim, db_path, instance={"name": "b"}, **settings)
    await a.start()
    await b.start(lead=False)
    try:
        await roster_csv.import_roster(a.runtime.db, ROSTER)
        await _located_incident(a)
        await a.say(a.commander, a.ops, "/request 1 ambulance")
        assert len(sim.bot_messages(a.agency_wapi)) == 1
        # a goes before its time-out job runs: only b is left to move the offer on
        await a.stop()
        await sim.wait_for(
            lambda: len(sim.bot_messages(b.agency_wapi)) == 2,
            timeout=15,
            message="no second offer",
        )
        request = await requests.get_request(b.runtime.db, 1)
        assert request is not None
        assert request.offers[0].status is OfferStatus.EXPIRED
        assert request.offers[1].unit.code == "BE-WAPI-AMB-2"
    finally:
        await b.stop()
        await a.stop()


@pytest.mark.sqlite_only  # no database
def test_every_log_line_names_its_instance() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        logs.setup("INFO", secrets=["1:secret"], instance="passerelle-a")
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("bot.somewhere").info("event=test value=%s", "1:secret")
        logging.getLogger("telegram.ext").warning("not ours")
    finally:
        root.handlers[:], root.level = saved
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(" instance=passerelle-a " in line for line in lines)
    assert "1:secret" not in stream.getvalue()
