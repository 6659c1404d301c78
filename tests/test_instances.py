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
import socket
import time
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import shared_run
from bot.cluster import leases, members, status
from bot.cluster.leases import Leases
from bot.core import logs
from bot.core.config import StorageSettings
from bot.core.db import Database, database_for, to_db_time, utcnow
from bot.core.effects import Live, LiveKind
from bot.core.models import OfferStatus
from bot.delivery import outbox
from bot.delivery.leader import PollingLeader
from bot.delivery.pace import SharedRateLimiter
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
    # the holder is a process (`a#3f9c2e`): its instance's name
    return leases.instance_of(row[0]) if row else None


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
    # each keeps half the overall pace and half of each group's budget
    for one in (a, b):
        assert one.app is not None
        limiter = one.app.bot.rate_limiter
        assert isinstance(limiter, SharedRateLimiter)
        assert limiter.interval == pytest.approx(2 / 29.5)
        assert limiter.group_interval == pytest.approx(6.0)
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
    assert [leases.instance_of(lease.holder) for lease in claims] == ["b"]
    assert [lease.holder for lease in claims] == [b.runtime.leases.holder]


async def test_health_says_who_leads_what(pair: tuple[Harness, Harness]) -> None:
    _, b = pair
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{b.web.port}/health")
    assert answer.status_code == 200
    found = answer.json()
    assert found["ok"] is True
    assert found["this"]["name"] == "b" and found["this"]["polls"] is False
    # its leases' holder is this process: its name and a token
    assert found["this"]["holder"].startswith("b#")
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


# --- one name, one process ------------------------------------------------------------------


async def test_a_second_process_under_an_instances_name_does_not_start(
    tmp_path: Path, backend: str
) -> None:
    """As an operator would do it: the same configuration copied, `[instance] name` and all.
    The second process refuses to start, one line saying whose the name is; the first polls on."""
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_crash_bot")
    await sim.start()
    db_path = tmp_path / "shared.db"
    config = tmp_path / "same.toml"
    config.write_text(_instance_config(sim, db_path, "same"), encoding="utf-8")
    first = Bot(config, tmp_path / "first.log")
    second = Bot(config, tmp_path / "second.log")
    try:
        await first.start()
        await _until(lambda: _polling_holder(db_path) == "same", 30, "the first polls")
        assert first.process is not None
        pid = first.process.pid
        await second.start()
        assert await second.exited(30) == 2
        said = second.log.read_text()
        refusals = [line for line in said.splitlines() if "[instance] name" in line]
        assert refusals == [
            f"[instance] name 'same' is used by another instance alive, on host"
            f" {socket.gethostname()} (pid {pid}): give each instance its own [instance] name"
        ]
        assert "Traceback" not in said
        await asyncio.sleep(1)
        assert _polling_holder(db_path) == "same"
        assert first.process is not None and first.process.returncode is None
        assert "event=instance_name_clash" not in first.log.read_text()
    finally:
        await first.stop()
        await second.stop()
        await sim.stop()


def _presence(db: Database, name: str, host: str, pid: int) -> members.Presence:
    presence = members.Presence(db, name, "polling", every=0.1)
    presence.host, presence.pid = host, pid  # another machine's process
    return presence


async def test_a_name_whose_last_process_died_or_stopped_is_free_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(members, "ALIVE_WITHIN", 1.0)
    # killed a moment ago on another machine: its row still looks alive, but it beats no more
    gone = _presence(db, "same", "machine-a", 4242)
    await gone.beat()
    started = time.monotonic()
    again = _presence(db, "same", "machine-b", 77)
    await again.start()  # waited until the row was seen to be dead
    assert 0.5 < time.monotonic() - started < 3
    await again.stop()  # a clean stop: the next one starts at once
    started = time.monotonic()
    after = _presence(db, "same", "machine-c", 78)
    await after.start()
    assert time.monotonic() - started < 0.5
    await after.stop()


async def test_a_second_process_under_a_name_alive_elsewhere_is_refused(db: Database) -> None:
    first = _presence(db, "same", "machine-a", 4242)
    await first.start()
    try:
        second = _presence(db, "same", "machine-b", 77)
        with pytest.raises(members.InstanceNameTaken) as refused:
            await second.start()
        assert "machine-a (pid 4242)" in str(refused.value)
        async with db.read() as tx:
            row = await tx.one("SELECT host, stopped_at FROM instances WHERE name = 'same'")
        assert row is not None and row["host"] == "machine-a" and row["stopped_at"] is None
    finally:
        await first.stop()


async def test_two_processes_of_one_name_that_raced_at_start_never_both_poll(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(members, "ALIVE_WITHIN", 1.0)
    caplog.set_level(logging.INFO)
    # their heartbeats, beaten by hand here (in turn, as two processes' would)
    older = _presence(db, "same", "machine-a", 4242)
    newer = _presence(db, "same", "machine-b", 77)
    older.every = newer.every = 60.0
    polling: dict[str, bool] = {"older": False, "newer": False}
    both: list[float] = []

    def leader(who: str, presence: members.Presence) -> PollingLeader:
        async def start() -> None:
            polling[who] = True
            if all(polling.values()):
                both.append(time.monotonic())

        async def stop() -> None:
            polling[who] = False

        return PollingLeader(
            Leases(db, leases.holder_for("same")),
            start,
            stop,
            seconds=1.0,
            renew_every=0.2,
            try_every=0.1,
            may_lead=lambda: not presence.yields,
        )

    leaders = {"newer": leader("newer", newer), "older": leader("older", older)}
    try:
        await older.start()
        leaders["newer"].start()  # the newer process happens to poll first
        await _until(lambda: leaders["newer"].is_leading, 5, "the newer one polls")
        leaders["older"].start()
        await asyncio.sleep(0.5)
        # a holder per process: the older one cannot take the lease the newer one holds
        assert not leaders["older"].is_leading
        # the race: the newer one checked the name before the older one's first heartbeat
        monkeypatch.setattr(newer, "_namesake_alive", _nobody)
        await newer.start()  # its heartbeat finds the row the older one wrote
        assert newer.namesake is not None and newer.yields
        # it gives the polling up to the older one
        await _until(lambda: leaders["older"].is_leading, 5, "the older one polls")
        assert not leaders["newer"].is_leading
        await older.beat()  # and the older one finds the newer one's row
        assert older.namesake is not None and not older.yields
        clashes = [r for r in caplog.records if "event=instance_name_clash " in r.getMessage()]
        assert len(clashes) == 2 and all(r.levelno == logging.ERROR for r in clashes)
        # each counts the namesake behind the one row: the pace is shared by two
        await newer.beat()
        assert older.alive == 2 and newer.alive == 2
        await asyncio.sleep(0.5)
        assert leaders["older"].is_leading and not leaders["newer"].is_leading
        # the older one stops for good; its stop leaves the row the newer one wrote alone
        await leaders["older"].stop()
        await older.stop()
        async with db.read() as tx:
            row = await tx.one("SELECT host, stopped_at FROM instances WHERE name = 'same'")
        assert row is not None and row["host"] == "machine-b" and row["stopped_at"] is None
        # no namesake heard of for ALIVE_WITHIN: the newer one may poll again
        await asyncio.sleep(1.1)
        await newer.beat()
        assert newer.namesake is None and newer.alive == 1
        await _until(lambda: leaders["newer"].is_leading, 5, "the newer one polls again")
        assert both == []
    finally:
        for one in leaders.values():
            await one.stop()
        await newer.stop()
        await older.stop()


async def _nobody() -> None:
    return None


# --- the database's clock -------------------------------------------------------------------


async def test_a_machine_whose_clock_runs_ahead_takes_no_lease_before_it_ran_out(
    tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = _database(tmp_path / "clock.db")
    await first.open()
    ahead = _database(tmp_path / "clock.db")
    await ahead.open()
    skew = timedelta(seconds=30)
    ahead.local_now = lambda: utcnow() + skew  # type: ignore[method-assign]
    try:
        # not measured yet: the machine ahead believes a lease 5 s old ran out long ago
        assert await Leases(first, "a").acquire("skewed", 5)
        assert await Leases(ahead, "b").acquire("skewed", 5)
        # the database's clock measured (as at start and with each heartbeat)
        caplog.set_level(logging.INFO)
        assert abs((await first.measure_clock()).total_seconds()) < 0.5
        offset = await ahead.measure_clock()
        assert abs((offset + skew).total_seconds()) < 0.5
        assert any("event=clock_offset " in r.getMessage() for r in caplog.records)
        a, b = Leases(first, "a"), Leases(ahead, "b")
        for round_ in range(5):
            name = f"polling:{round_}"
            assert await a.acquire(name, 1.0)
            assert not await b.acquire(name, 1.0)
        await asyncio.sleep(1.1)
        assert await b.acquire("polling:0", 1.0)  # ran out: anyone's
        assert not await a.acquire("polling:0", 1.0)
        # the heartbeats: each sees the other alive, and /health agrees
        here = members.Presence(first, "here", "polling")
        there = members.Presence(ahead, "there", "polling")
        await here.start()
        await there.start()
        await here.beat()
        assert here.alive == 2 and there.alive == 2
        found = await status.status(ahead, "there")
        assert found["alive"] == 2
        assert all(i["seen_seconds_ago"] < 5 for i in found["instances"])
        await there.stop()
        await here.stop()
    finally:
        await ahead.close()
        await first.close()


# --- the pace -------------------------------------------------------------------------------


@pytest.mark.sqlite_only  # no database
async def test_two_instances_share_each_groups_budget_and_take_it_back_alone() -> None:
    limiter = SharedRateLimiter()
    group = limiter._get_group_limiter(-100101)  # a group sent to already
    assert (group.max_rate, group.time_period) == (20, 60)
    assert limiter.group_interval == 3.0
    limiter.share(2)
    assert limiter.group_interval == 6.0 and limiter.interval == pytest.approx(2 / 29.5)
    later = limiter._get_group_limiter(-100102)  # and one sent to from now on
    for bucket in (group, later):
        assert bucket.max_rate == 10
        assert 1 / bucket._rate_per_sec == pytest.approx(6.0)
    for _ in range(10):  # half the burst, then one message every 6 s
        await later.acquire()
    assert not later.has_capacity()
    limiter.share(1)  # the other instance died
    assert limiter.group_interval == 3.0
    for bucket in (group, later, limiter._get_group_limiter(-100103)):
        assert bucket.max_rate == 20
        assert 1 / bucket._rate_per_sec == pytest.approx(3.0)
    assert later.has_capacity()
    # many instances: a bucket of one message, each instance's share of a minute's 20
    limiter.share(40)
    assert limiter.group_interval == 120.0
    assert later.max_rate == 1 and 1 / later._rate_per_sec == pytest.approx(120.0)
