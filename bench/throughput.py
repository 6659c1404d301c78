"""Update throughput and latency: groups of four (a commander and three responders), one open
incident each, and a mixed stream of replies to the card, /log, /status, shared locations and
card buttons. The same stream is then played to a bare PTB echo bot for reference.

Definitions (docs/benchmarks.md):
- available: the moment the driver queued the update in the stand-in;
- effect: a reply to the card or a location is done when its timeline row is stored (the
  row's `at`, written inside the transaction); /log and /status when their answer reaches the
  stand-in (sendMessage), a button when answerCallbackQuery does; the echo bot's text when
  its sendMessage does. Answers are matched to commands in order, per chat;
- throughput: updates of the stream / (last effect − first available), the stream queued
  all at once; latency: effect − available, the stream paced at a fixed rate.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    db_time,
    first_get_updates,
    percentile,
    postgres_cpu_seconds,
    wait_until,
)
from bot.simulator import SimChat, SimUser, TelegramSimulator

# the mix: (kind, weight)
MIX = (("reply", 35), ("log", 25), ("status", 10), ("location", 10), ("press", 20))
ANSWERED = ("log", "status", "press")
STORED = ("reply", "log", "location")
GROUP_BASE = -1002000000000
USER_BASE = 7000000


@dataclass(frozen=True)
class Size:
    groups: int = 50
    users: int = 200
    updates: int = 5000
    paced_updates: int = 2000
    rate: float = 100.0


@dataclass
class Sent:
    kind: str
    chat_id: int
    at: float
    message_id: int | None = None
    query_id: str | None = None
    text: bool = False


@dataclass
class Group:
    chat: SimChat
    commander: SimUser
    members: list[SimUser]
    ref: int = 0
    card_id: int = 0


def _metrics(results: Results) -> None:
    results.define(
        Metric("tp_updates", "Passerelle: updates/s (whole stream queued at once)", "/s", digits=0)
    )
    results.define(
        Metric("tp_answered", "Passerelle: answered commands/s (same run)", "/s", digits=0)
    )
    results.define(Metric("tp_echo", "echo bot: updates/s (same stream)", "/s", digits=0))
    results.define(
        Metric(
            "tp_ratio",
            "ratio Passerelle / echo (updates/s)",
            "",
            "≥ 1.0",
            lambda v: v >= 1.0,
            digits=2,
        )
    )
    results.define(
        Metric(
            "tp_timeline",
            "timeline entries stored/s (same run)",
            "/s",
            "≥ 1,000/s",
            lambda v: v >= 1000,
            digits=0,
        )
    )
    results.define(Metric("tp_sat_p50", "latency p50, all queued at once", "ms", digits=0))
    results.define(Metric("tp_p50", "latency p50 at 100 updates/s", "ms", digits=1))
    results.define(
        Metric(
            "tp_p99", "latency p99 at 100 updates/s", "ms", "≤ 50 ms", lambda v: v <= 50, digits=1
        )
    )
    results.define(Metric("tp_rss", "Passerelle resident memory after the run", "MB"))
    results.define(
        Metric("tp_cpu", "Passerelle CPU time per update (user + system)", "ms", digits=2)
    )
    results.define(
        Metric(
            "tp_answered_ratio",
            "ratio answered commands/s / echo updates/s",
            "",
            "≥ 1.0",
            lambda v: v >= 1.0,
            digits=2,
        )
    )
    results.define(Metric("tp_p99_200", "latency p99 at 200 updates/s", "ms", digits=1))
    results.define(
        Metric("tp_echo_cpu", "echo bot CPU time per update (user + system)", "ms", digits=2)
    )
    results.define(
        Metric(
            "tp_sim_cpu",
            "stand-in and driver CPU time per update (this process, same run)",
            "ms",
            digits=2,
        )
    )
    results.define(
        Metric(
            "tp_server_cpu",
            "PostgreSQL server CPU time per update (its processes, same run)",
            "ms",
            digits=2,
        )
    )
    results.define(
        Metric("tp_pg_xacts", "PostgreSQL transactions per update (card edits too)", "", digits=2)
    )
    results.define(
        Metric("tp_pg_lock", "PostgreSQL writer lock held (share of the same run)", "%", digits=0)
    )
    results.define(
        Metric(
            "tp_pg_lock_bot",
            "writer lock held while its unit waits for the bot (idle in transaction)",
            "%",
            digits=0,
        )
    )
    results.define(
        Metric("tp_pg_wait", "units waiting at the server for the writer lock, mean", "", digits=1)
    )


def build_world(sim: TelegramSimulator, size: Size) -> list[Group]:
    per_group = max(1, size.users // size.groups)
    groups = []
    languages = (["fr"], ["nl"], ["fr", "nl"], ["en"])
    for g in range(size.groups):
        users = [
            sim.add_user(
                USER_BASE + g * per_group + u,
                f"User{g}-{u}",
                username=f"user{g}_{u}",
                language_code=languages[g % 4][0],
            )
            for u in range(per_group)
        ]
        chat = sim.add_chat(
            GROUP_BASE - g,
            "supergroup",
            title=f"Ops {g}",
            members=users,
            bot_status="administrator",
        )
        groups.append(Group(chat, users[0], users))
    return groups


def config_entries(groups: list[Group]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    languages = (["fr"], ["nl"], ["fr", "nl"], ["en"])
    chats = [
        {
            "id": g.chat.id,
            "name": g.chat.title or str(g.chat.id),
            "kind": "operations",
            "country": "BE" if i % 2 else "FR",
            "languages": languages[i % 4],
        }
        for i, g in enumerate(groups)
    ]
    people = [
        {"id": g.commander.id, "name": f"Commander {i}", "roles": ["commander"]}
        for i, g in enumerate(groups)
    ]
    return chats, people


async def declare_incidents(sim: TelegramSimulator, groups: list[Group], bot: BotProcess) -> None:
    """Not measured: one incident per group, its card posted and pinned."""
    for i, g in enumerate(groups):
        await sim.send_text(g.commander, g.chat, f"/incident Exercice {i}: fuite de gaz")
    await wait_until(lambda: all(sim.pinned(g.chat) for g in groups), 120, "the cards", bot)
    for g in groups:
        card = sim.pinned(g.chat)
        assert card is not None
        g.card_id = card.message_id
        data = next(d for d in card.callback_data if d.startswith("i1:"))
        g.ref = int(data.split(":")[1])


def plan(groups: list[Group], count: int, seed: int) -> list[tuple[str, int, int]]:
    rnd = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    out = []
    for _ in range(count):
        kind = rnd.choices(kinds, weights)[0]
        g = rnd.randrange(len(groups))
        user = 0 if kind in ("status", "press") else rnd.randrange(len(groups[g].members))
        out.append((kind, g, user))
    return out


async def play(
    sim: TelegramSimulator,
    groups: list[Group],
    steps: list[tuple[str, int, int]],
    rate: float | None,
) -> list[Sent]:
    sent: list[Sent] = []
    start = time.monotonic()
    for i, (kind, g, u) in enumerate(steps):
        if rate is not None:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        group = groups[g]
        user = group.members[u]
        if kind == "reply":
            msg = await sim.send_text(user, group.chat, f"point {i}: RAS", reply_to=group.card_id)
            sent.append(Sent(kind, group.chat.id, time.time(), msg.message_id, text=True))
        elif kind == "log":
            msg = await sim.send_text(user, group.chat, f"/log engin {i} sur place")
            sent.append(Sent(kind, group.chat.id, time.time(), msg.message_id, text=True))
        elif kind == "status":
            msg = await sim.send_text(user, group.chat, "/status")
            sent.append(Sent(kind, group.chat.id, time.time(), msg.message_id, text=True))
        elif kind == "location":
            msg = await sim.send_location(
                user, group.chat, 50.6 + i % 100 / 1000, 3.39, reply_to=group.card_id
            )
            sent.append(Sent(kind, group.chat.id, time.time(), msg.message_id))
        else:
            data = f"i1:{group.ref}:sv:{1 + i % 4}" if i % 3 else f"i1:{group.ref}:st:act"
            query = await sim.press(user, group.chat, group.card_id, data, forged=True)
            sent.append(Sent(kind, group.chat.id, time.time(), query_id=query))
    return sent


class Effects:
    """What the stand-in and the database show for a stream, from a starting point (made with
    `Effects.begin`; `store` None: no database, the echo bot)."""

    def __init__(self, sim: TelegramSimulator, store: Store | None, timeline_start: int) -> None:
        self.sim = sim
        self.store = store
        self.call_start = len(sim.calls)
        self.timeline_start = timeline_start

    @classmethod
    async def begin(cls, sim: TelegramSimulator, store: Store | None) -> Effects:
        start = 0
        if store is not None:
            start = int(await store.scalar("SELECT COALESCE(MAX(id), 0) FROM timeline"))
        return cls(sim, store, start)

    def calls(self, method: str) -> list[Any]:
        return [c for c in self.sim.calls[self.call_start :] if c.method == method and c.ok]

    async def stored_count(self) -> int:
        assert self.store is not None
        return int(
            await self.store.scalar(
                "SELECT COUNT(*) FROM timeline WHERE id > ? AND message_id IS NOT NULL",
                (self.timeline_start,),
            )
        )

    async def timeline_rows(self) -> list[tuple[int, int | None, str]]:
        assert self.store is not None
        return [
            (int(r[0]), r[1], str(r[2]))
            for r in await self.store.fetch(
                "SELECT chat_id, message_id, at FROM timeline WHERE id > ? ORDER BY id",
                (self.timeline_start,),
            )
        ]


def _answers_by_chat(calls: list[Any]) -> dict[int, list[float]]:
    by_chat: dict[int, list[float]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: c.time):
        by_chat[int(call.arg("chat_id"))].append(call.time)
    return by_chat


async def wait_passerelle(
    effects: Effects, sent: list[Sent], bot: BotProcess | Sequence[BotProcess]
) -> None:
    answers = sum(1 for s in sent if s.kind in ("log", "status"))
    presses = sum(1 for s in sent if s.kind == "press")
    stored = sum(1 for s in sent if s.kind in STORED)
    state = {"stored": 0, "checked": 0.0}

    async def done() -> bool:
        if len(effects.calls("sendMessage")) < answers:
            return False
        if len(effects.calls("answerCallbackQuery")) < presses:
            return False
        now = time.monotonic()
        if now - state["checked"] > 0.2:
            state["checked"] = now
            state["stored"] = await effects.stored_count()
        return state["stored"] >= stored

    await wait_until(done, 300, "Passerelle's effects", bot)


async def passerelle_latencies(effects: Effects, sent: list[Sent]) -> dict[str, Any]:
    """Effect time for each sent update (None when missing), and counts."""
    answers = _answers_by_chat(effects.calls("sendMessage"))
    acks = {str(c.arg("callback_query_id")): c.time for c in effects.calls("answerCallbackQuery")}
    rows = await effects.timeline_rows()
    stored = {(chat, mid): db_time(at) for chat, mid, at in rows if mid is not None}
    cursor: dict[int, int] = defaultdict(int)
    done: list[tuple[Sent, float]] = []
    for s in sent:
        effect: float | None
        if s.kind in ("log", "status"):
            times = answers.get(s.chat_id, [])
            k = cursor[s.chat_id]
            cursor[s.chat_id] += 1
            effect = times[k] if k < len(times) else None
        elif s.kind == "press":
            effect = acks.get(s.query_id or "")
        else:
            effect = stored.get((s.chat_id, s.message_id or 0))
        if effect is None:
            raise BenchError(f"no effect recorded for {s}")
        done.append((s, effect))
    return {"done": done, "timeline": [db_time(at) for _, _, at in rows]}


async def wait_echo(effects: Effects, sent: list[Sent], bot: BotProcess) -> None:
    texts = sum(1 for s in sent if s.text)
    await wait_until(lambda: len(effects.calls("sendMessage")) >= texts, 300, "echoes", bot)


def echo_effects(effects: Effects, sent: list[Sent]) -> list[float]:
    answers = _answers_by_chat(effects.calls("sendMessage"))
    return [t for times in answers.values() for t in times]


async def run_once(size: Size, workdir: Path, seed: int, results: Results, store: Store) -> None:
    _metrics(results)
    async with TelegramSimulator(token=TOKEN, enforce_limits=False) as sim:
        groups = build_world(sim, size)
        chats, people = config_entries(groups)
        config = bot_config(sim, store, chats=chats, people=people, rate_limit=False)
        bot = BotProcess.passerelle(config, workdir, "passerelle")
        await bot.start()
        try:
            await first_get_updates(sim, bot, 60)
            await declare_incidents(sim, groups, bot)
            await asyncio.sleep(0.5)
            # 1. saturation: the whole stream queued at once
            effects = await Effects.begin(sim, store)
            lock = WriterLock(store) if store.backend == POSTGRESQL else None
            if lock is not None:
                await lock.start()
            cpu, server_cpu = bot.cpu_seconds(), postgres_cpu_seconds()
            own_cpu = time.process_time()
            sent = await play(sim, groups, plan(groups, size.updates, seed), rate=None)
            await wait_passerelle(effects, sent, bot)
            results.add("tp_cpu", 1000 * (bot.cpu_seconds() - cpu) / len(sent))
            results.add("tp_sim_cpu", 1000 * (time.process_time() - own_cpu) / len(sent))
            if lock is not None:
                await lock.stop()
                server_cpu = postgres_cpu_seconds() - server_cpu
                results.add("tp_server_cpu", 1000 * server_cpu / len(sent))
                results.add("tp_pg_lock", 100 - lock.share(None))
                results.add("tp_pg_lock_bot", lock.share("idle in transaction"))
                results.add("tp_pg_wait", lock.waiting())
                results.add("tp_pg_xacts", await lock.count_transactions() / len(sent))
            found = await passerelle_latencies(effects, sent)
            t0 = min(s.at for s in sent)
            done: list[tuple[Sent, float]] = found["done"]
            last = max(t for _, t in done)
            results.add("tp_updates", len(sent) / (last - t0))
            answered = [t for s, t in done if s.kind in ANSWERED]
            results.add("tp_answered", len(answered) / (max(answered) - t0))
            timeline: list[float] = found["timeline"]
            results.add("tp_timeline", len(timeline) / (max(timeline) - t0))
            results.add("tp_sat_p50", 1000 * percentile([t - s.at for s, t in done], 50))
            passerelle_rate = len(sent) / (last - t0)
            answered_rate = len(answered) / (max(answered) - t0)
            # 2. latency at a steady rate
            await asyncio.sleep(3.5)  # let the card edits of the burst go out
            effects = await Effects.begin(sim, store)
            steps = plan(groups, size.paced_updates, seed + 1)
            sent = await play(sim, groups, steps, rate=size.rate)
            await wait_passerelle(effects, sent, bot)
            done = (await passerelle_latencies(effects, sent))["done"]
            latencies = [1000 * (t - s.at) for s, t in done]
            results.add("tp_p50", percentile(latencies, 50))
            results.add("tp_p99", percentile(latencies, 99))
            # 3. latency at twice that rate
            await asyncio.sleep(3.5)
            effects = await Effects.begin(sim, store)
            steps = plan(groups, size.paced_updates, seed + 2)
            sent = await play(sim, groups, steps, rate=2 * size.rate)
            await wait_passerelle(effects, sent, bot)
            done = (await passerelle_latencies(effects, sent))["done"]
            results.add("tp_p99_200", percentile([1000 * (t - s.at) for s, t in done], 99))
            results.add("tp_rss", bot.rss_mb())
        finally:
            await bot.stop()
        # 4. the reference: the echo bot, the same stream, the same stand-in
        echo = BotProcess(
            [sys.executable, "-m", "bench.echo_bot", sim.base_url, TOKEN], workdir, "echo"
        )
        sim.world.updates.clear()
        await echo.start()
        try:
            await first_get_updates_after(sim, echo)
            effects = await Effects.begin(sim, None)
            cpu = echo.cpu_seconds()
            sent = await play(sim, groups, plan(groups, size.updates, seed), rate=None)
            await wait_echo(effects, sent, echo)
            results.add("tp_echo_cpu", 1000 * (echo.cpu_seconds() - cpu) / len(sent))
            times = echo_effects(effects, sent)
            t0 = min(s.at for s in sent)
            echo_rate = len(sent) / (max(times) - t0)
            results.add("tp_echo", echo_rate)
            results.add("tp_ratio", passerelle_rate / echo_rate)
            results.add("tp_answered_ratio", answered_rate / echo_rate)
        finally:
            await echo.stop()


async def first_get_updates_after(sim: TelegramSimulator, bot: BotProcess) -> None:
    start = len(sim.calls)
    await wait_until(
        lambda: any(c.method == "getUpdates" for c in sim.calls[start:]), 60, "getUpdates", bot
    )
