"""One instance, then two together, on one PostgreSQL database, in webhook mode behind the
stand-in's reverse proxy (`TelegramSimulator.webhook.balance`: round-robin, several
deliveries at once, each chat's updates in order, a delivery answered once the update is
handled).

The world and the stream are the throughput scenario's (bench/throughput.py): groups of four,
one incident each, the mixed stream queued all at once. First the stream goes to ONE instance
(the proxy in front of it alone, the same number of deliveries at once), then a second
instance starts on the same database and another stream of the same size goes to both, in
turn. Measured as in throughput (updates/s, answered commands/s: from the first update
available to the last effect), plus:
- deliveries each instance answered (both must have taken some);
- every effect exactly once: one timeline row per reply, /log and location, one answer per
  /log and /status, one answerCallbackQuery per press: missing or doubled ones are counted;
- CPU time per update: the instances' together, the PostgreSQL server's processes, the
  stand-in's (this process: it delivers the webhooks and plays Telegram).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import throughput
from bench.common import (
    POSTGRESQL,
    TOKEN,
    BenchError,
    BotProcess,
    Metric,
    Results,
    Store,
    WriterLock,
    bot_config,
    free_port,
    postgres_cpu_seconds,
    wait_until,
)
from bot.simulator import TelegramSimulator

PUBLIC_URL = "https://passerelle.bench"  # the reverse proxy's address, set as the webhook
WEBHOOK_PATH = "tg"
SECRET = "bench-webhook-secret"


@dataclass(frozen=True)
class Size:
    groups: int = 50
    users: int = 200
    updates: int = 5000
    # deliveries at once through the proxy (Telegram's default max_connections is 40)
    connections: int = 40

    def world(self) -> throughput.Size:
        return throughput.Size(groups=self.groups, users=self.users, updates=self.updates)


QUICK = Size(groups=4, users=16, updates=60, connections=8)


@dataclass
class Instance:
    name: str
    port: int
    bot: BotProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{WEBHOOK_PATH}"


@dataclass
class Phase:
    """One stream through the proxy: its rates, deliveries and faults."""

    updates_rate: float
    answered_rate: float
    deliveries: dict[str, int]  # instance url → deliveries it answered 2xx
    failed: int  # deliveries that got no 2xx (sent again to the next instance)
    wrong: int  # effects missing or doubled
    cpu_ms: float  # the instances' CPU per update
    server_ms: float  # PostgreSQL's
    sim_ms: float  # the stand-in's
    lock_held: float  # % of the time a unit held the writer lock
    lock_bot: float  # % of the time it held it while waiting for its bot
    lock_waiting: float  # units waiting for it, mean


def _metrics(results: Results) -> None:
    def define(
        key: str,
        label: str,
        unit: str,
        digits: int,
        target: str = "",
        check: Callable[[float], bool] | None = None,
    ) -> None:
        results.define(Metric(key, f"instances: {label}", unit, target, check, digits=digits))

    define("inst_one_updates", "one instance, updates/s (webhook, all queued)", "/s", 0)
    define("inst_one_answered", "one instance, answered commands/s", "/s", 0)
    define("inst_two_updates", "two instances together, updates/s", "/s", 0)
    define("inst_two_answered", "two instances together, answered commands/s", "/s", 0)
    define("inst_ratio", "ratio two / one (updates/s)", "", 2)
    define("inst_share", "deliveries taken by the less busy of the two", "%", 0)
    define("inst_wrong", "effects lost or doubled (both streams)", "", 0, "0", lambda v: v == 0)
    define("inst_failed", "deliveries without a 2xx (sent again)", "", 0)
    define("inst_cpu_one", "bot CPU per update, one instance", "ms", 2)
    define("inst_cpu_two", "bot CPU per update, two instances (sum)", "ms", 2)
    define("inst_server_one", "PostgreSQL server CPU per update, one instance", "ms", 2)
    define("inst_server_two", "PostgreSQL server CPU per update, two instances", "ms", 2)
    define("inst_sim_one", "stand-in CPU per update, one instance", "ms", 2)
    define("inst_sim_two", "stand-in CPU per update, two instances", "ms", 2)
    define("inst_lock_one", "writer lock held, one instance", "%", 0)
    define("inst_lock_two", "writer lock held, two instances", "%", 0)
    define("inst_lock_bot_one", "writer lock held waiting for the bot, one instance", "%", 0)
    define("inst_lock_bot_two", "writer lock held waiting for a bot, two instances", "%", 0)
    define("inst_wait_one", "units waiting at the server for the lock, one instance", "", 1)
    define("inst_wait_two", "units waiting at the server for the lock, two instances", "", 1)


def instance_config(
    sim: TelegramSimulator, store: Store, groups: list[throughput.Group], name: str, port: int
) -> dict[str, Any]:
    """The throughput scenario's configuration in webhook mode: this instance's own name (in
    its calls to the stand-in too) and port, the shared database."""
    chats, people = throughput.config_entries(groups)
    config = bot_config(sim, store, chats=chats, people=people, rate_limit=False, client=name)
    config["telegram"]["mode"] = "webhook"
    config["webhook"] = {
        "listen": "127.0.0.1",
        "port": port,
        "url": f"{PUBLIC_URL}/{WEBHOOK_PATH}",
        "url_path": WEBHOOK_PATH,
        "secret_token": SECRET,
    }
    # in webhook mode the board is served beside the webhook, on its port
    config["board"] = {"listen": "127.0.0.1", "port": port, "public_url": PUBLIC_URL}
    config["instance"] = {"name": name}
    return config


async def start(sim: TelegramSimulator, instance: Instance) -> None:
    """Until the instance has set its webhook (it listens then)."""
    since = len(sim.calls)
    await instance.bot.start()
    await wait_until(
        lambda: any(
            c.client == instance.name and c.method == "setWebhook" and c.ok
            for c in sim.calls[since:]
        ),
        60,
        f"{instance.name}'s setWebhook",
        instance.bot,
    )


async def stream(
    sim: TelegramSimulator,
    store: Store,
    groups: list[throughput.Group],
    fleet: list[Instance],
    updates: int,
    seed: int,
) -> Phase:
    """The saturating stream through the proxy to `fleet`; what it did, checked."""
    bots = [i.bot for i in fleet]
    effects = await throughput.Effects.begin(sim, store)
    lock = WriterLock(store)
    await lock.start()
    first_delivery = len(sim.webhook.deliveries)
    cpu, server, sim_cpu = sum(b.cpu_seconds() for b in bots), postgres_cpu_seconds(), _own_cpu()
    sent = await throughput.play(sim, groups, throughput.plan(groups, updates, seed), rate=None)
    await throughput.wait_passerelle(effects, sent, bots)
    await lock.stop()
    await lock.count_transactions(settle=0)
    cpu = sum(b.cpu_seconds() for b in bots) - cpu
    server, sim_cpu = postgres_cpu_seconds() - server, _own_cpu() - sim_cpu
    found = await throughput.passerelle_latencies(effects, sent)
    done: list[tuple[throughput.Sent, float]] = found["done"]
    t0 = min(s.at for s in sent)
    answered = [t for s, t in done if s.kind in throughput.ANSWERED]
    # every update delivered, and a moment for a late duplicate to show
    await wait_until(lambda: not sim.world.updates.pending, 60, "the last deliveries", bots)
    await asyncio.sleep(1.0)
    deliveries = sim.webhook.deliveries[first_delivery:]
    return Phase(
        updates_rate=len(sent) / (max(t for _, t in done) - t0),
        answered_rate=len(answered) / (max(answered) - t0),
        deliveries=dict(Counter(d.url for d in deliveries if d.ok)),
        failed=sum(1 for d in deliveries if d.ended and not d.ok),
        wrong=await _wrong_effects(effects, sent),
        cpu_ms=1000 * cpu / len(sent),
        server_ms=1000 * server / len(sent),
        sim_ms=1000 * sim_cpu / len(sent),
        lock_held=100 - lock.share(None),
        lock_bot=lock.share("idle in transaction"),
        lock_waiting=lock.waiting(),
    )


async def _wrong_effects(effects: throughput.Effects, sent: list[throughput.Sent]) -> int:
    """Effects missing or doubled: timeline rows per stored update, answers per command,
    acknowledgements per press (each must be exactly one)."""
    rows = Counter(
        (chat, message) for chat, message, _ in await effects.timeline_rows() if message is not None
    )
    stored = Counter((s.chat_id, s.message_id) for s in sent if s.kind in throughput.STORED)
    answers = Counter(int(c.arg("chat_id")) for c in effects.calls("sendMessage"))
    asked = Counter(s.chat_id for s in sent if s.kind in ("log", "status"))
    acks = Counter(str(c.arg("callback_query_id")) for c in effects.calls("answerCallbackQuery"))
    presses = Counter(s.query_id for s in sent if s.kind == "press")
    wrong = 0
    for got, wanted in ((rows, stored), (answers, asked), (acks, presses)):
        for key in set(got) | set(wanted):
            wrong += abs(got.get(key, 0) - wanted.get(key, 0))  # type: ignore[call-overload]
    return wrong


def _own_cpu() -> float:
    return time.process_time()


async def run_once(size: Size, workdir: Path, seed: int, results: Results, store: Store) -> None:
    _metrics(results)
    if store.backend != POSTGRESQL:
        raise BenchError("the instances scenario runs on PostgreSQL only (--backend)")
    async with TelegramSimulator(token=TOKEN, enforce_limits=False) as sim:
        groups = throughput.build_world(sim, size.world())
        fleet = []
        for n in (1, 2):
            name, port = f"instance-{n}", free_port()
            config = instance_config(sim, store, groups, name, port)
            fleet.append(Instance(name, port, BotProcess.passerelle(config, workdir, name)))
        one, two = fleet
        # a long time-out: a delivery that is merely queued behind others is not a failure
        sim.webhook.balance([one.url], connections=size.connections, timeout=60)
        try:
            await start(sim, one)
            await throughput.declare_incidents(sim, groups, one.bot)
            await asyncio.sleep(0.5)
            alone = await stream(sim, store, groups, [one], size.updates, seed)
            await asyncio.sleep(3.5)  # let the card edits of the burst go out
            await start(sim, two)
            sim.webhook.balance([one.url, two.url], connections=size.connections, timeout=60)
            both = await stream(sim, store, groups, fleet, size.updates, seed + 1)
        finally:
            await asyncio.gather(one.bot.stop(), two.bot.stop())
    taken = [both.deliveries.get(i.url, 0) for i in fleet]
    if min(taken) == 0:
        names = {i.name: n for i, n in zip(fleet, taken, strict=True)}
        raise BenchError(f"an instance took no delivery: {names}")
    results.add("inst_one_updates", alone.updates_rate)
    results.add("inst_one_answered", alone.answered_rate)
    results.add("inst_two_updates", both.updates_rate)
    results.add("inst_two_answered", both.answered_rate)
    results.add("inst_ratio", both.updates_rate / alone.updates_rate)
    results.add("inst_share", 100 * min(taken) / sum(taken))
    results.add("inst_wrong", alone.wrong + both.wrong)
    results.add("inst_failed", alone.failed + both.failed)
    results.add("inst_cpu_one", alone.cpu_ms)
    results.add("inst_cpu_two", both.cpu_ms)
    results.add("inst_server_one", alone.server_ms)
    results.add("inst_server_two", both.server_ms)
    results.add("inst_sim_one", alone.sim_ms)
    results.add("inst_sim_two", both.sim_ms)
    for key, phase in (("one", alone), ("two", both)):
        results.add(f"inst_lock_{key}", phase.lock_held)
        results.add(f"inst_lock_bot_{key}", phase.lock_bot)
        results.add(f"inst_wait_{key}", phase.lock_waiting)
