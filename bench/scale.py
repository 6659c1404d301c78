"""Scale: a database of 10,000 incidents, 200,000 timeline entries, 5,000 units and 500 chats
(bench/generate.py). Measured:
- service time of /status (open incidents of a chat, their last five entries, rendered),
  /roster (one type in one country, rendered; and the whole roster) and the nearest-unit
  search of a resource request (the bounding-box query and the ranking), called in-process
  on the generated file, 200 times each, p99;
- start to first getUpdates of `python -m bot` on that file, and its resident memory after
  start and after some /status and /roster through the stand-in.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from bench.common import (
    TOKEN,
    BotProcess,
    Metric,
    Results,
    bot_config,
    first_get_updates,
    percentile,
    wait_until,
)
from bench.generate import PERSON_BASE, Scale, build, chat_ids
from bot.app import CLAIMS_KEPT
from bot.core.config import RequestSettings
from bot.core.db import Database, SqliteDatabase, utcnow
from bot.core.directory import gate_lookup
from bot.core.models import Author, Country, ResourceType
from bot.incidents import service as incidents
from bot.render.roster import render_roster
from bot.render.status import render_status
from bot.resources import requests
from bot.resources import units as resources
from bot.simulator import TelegramSimulator


def _metrics(results: Results) -> None:
    ms = "ms"
    results.define(Metric("scale_size", "scale: database size", "MB"))
    results.define(
        Metric(
            "scale_status",
            "scale: /status service time p99",
            ms,
            "≤ 20 ms",
            lambda v: v <= 20,
            digits=2,
        )
    )
    results.define(
        Metric(
            "scale_roster",
            "scale: /roster <type> <country> service time p99",
            ms,
            "≤ 20 ms",
            lambda v: v <= 20,
            digits=2,
        )
    )
    results.define(
        Metric("scale_roster_all", "scale: /roster (all units) service time p99", ms, digits=1)
    )
    results.define(
        Metric(
            "scale_nearest",
            "scale: nearest-unit search p99",
            ms,
            "≤ 20 ms",
            lambda v: v <= 20,
            digits=2,
        )
    )
    results.define(Metric("scale_unit", "scale: a timeline reply's unit of work p99", ms, digits=2))
    results.define(
        Metric(
            "scale_unit_year",
            "scale: the same after a year of claims, no upkeep",
            ms,
            digits=2,
        )
    )
    results.define(Metric("scale_upkeep", "scale: upkeep dropping the year's old claims", "s"))
    results.define(
        Metric("scale_unit_upkept", "scale: the same unit after the upkeep", ms, digits=2)
    )
    results.define(
        Metric(
            "scale_start",
            "scale: start to first getUpdates",
            "s",
            "≤ 2 s",
            lambda v: v <= 2.0,
            digits=2,
        )
    )
    results.define(
        Metric(
            "scale_rss",
            "scale: resident memory after /status, /roster",
            "MB",
            "≤ 150 MB",
            lambda v: v <= 150,
        )
    )


async def _timed(calls: int, job: Callable[[int], Awaitable[Any]]) -> float:
    """p99 in ms of `calls` runs of job(i), after a few warm-up runs."""
    for i in range(5):
        await job(i)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        await job(i)
        times.append(1000 * (time.perf_counter() - start))
    return percentile(times, 99)


async def service_times(path: Path, scale: Scale, calls: int, results: Results) -> None:
    db = SqliteDatabase(path)
    await db.open()
    rnd = random.Random(3)
    ops = chat_ids(scale)["operations"]
    languages = ("fr", "nl")
    types = list(ResourceType)
    settings = RequestSettings()
    try:

        async def status(i: int) -> str:
            chat_id = ops[rnd.randrange(len(ops))]
            async with db.read() as tx:
                selected = await incidents.open_in_chat_in(tx, chat_id)
                timelines = await incidents.timelines_in(tx, [x.ref for x in selected], last=5)
            return render_status(selected, timelines, languages, "Europe/Brussels")

        async def roster(i: int) -> str:
            type_ = types[i % len(types)]
            country = (Country.FR, Country.BE)[i % 2]
            units = await resources.roster(db, type_, country)
            return render_roster(
                units, type_, country, languages, "Europe/Brussels", utcnow(), 24.0
            )

        async def roster_all(i: int) -> str:
            units = await resources.roster(db)
            return render_roster(units, None, None, languages, "Europe/Brussels", utcnow(), 24.0)

        open_refs = list(range(scale.incidents * 95 // 100 + 1, scale.incidents + 1))

        async def nearest(i: int) -> int:
            incident = await incidents.get(db, open_refs[i % len(open_refs)])
            assert incident is not None
            wanted = SimpleNamespace(type=types[i % len(types)], id=0)
            async with db.read() as tx:
                found, _ = await requests._in_range(tx, cast(Any, wanted), incident, settings)
            return len(found)

        results.add("scale_unit", await _timed(calls, _reply_unit(db, scale)))
        results.add("scale_status", await _timed(calls, status))
        results.add("scale_roster", await _timed(calls, roster))
        results.add("scale_roster_all", await _timed(max(10, calls // 10), roster_all))
        results.add("scale_nearest", await _timed(calls, nearest))
    finally:
        await db.close()


# ids of the updates the measured units of work claim: new ones every time
_UPDATE_IDS = itertools.count(900_000_000)


def _reply_unit(db: Database, scale: Scale) -> Callable[[int], Awaitable[Any]]:
    """What the bot's one transaction for a timeline reply does: the update's claim, the
    gate's read of the person and the chat, the note on an open incident's timeline."""
    ops = chat_ids(scale)["operations"]
    open_refs = list(range(scale.incidents * 95 // 100 + 1, scale.incidents + 1))
    author = Author(PERSON_BASE + 1, "Person 1", "person1")

    async def unit(i: int) -> None:
        ref = open_refs[i % len(open_refs)]
        async with db.unit(update_id=next(_UPDATE_IDS)) as work:
            await gate_lookup(work, person_id=author.id, chat_id=ops[i % len(ops)])
            incident = await incidents.incident_in(work, ref)
            assert incident is not None
            await incidents.add_note(
                work,
                ref=ref,
                text=f"point {i}: RAS",
                author=author,
                chat_id=incident.chat_id,
                message_id=i,
            )

    return unit


async def year_of_claims(scale: Scale, calls: int, workdir: Path, results: Results) -> None:
    """The reply's unit of work on a database that claimed 10,000 updates a day for a year
    and never dropped one, then after the upkeep that drops the old claims."""
    year = replace(scale, claims=scale.claims * 365 // 20, days=365)
    path = workdir / "scale-year.db"
    await build(path, year)
    db = SqliteDatabase(path)
    await db.open()
    try:
        results.add("scale_unit_year", await _timed(calls, _reply_unit(db, year)))
        started = time.perf_counter()
        await db.forget_claims(CLAIMS_KEPT)
        results.add("scale_upkeep", time.perf_counter() - started)
        await db.checkpoint()  # as the bot does every few seconds
        results.add("scale_unit_upkept", await _timed(calls, _reply_unit(db, year)))
    finally:
        await db.close()
    path.unlink()


async def run_once(scale: Scale, calls: int, workdir: Path, results: Results) -> None:
    _metrics(results)
    source = workdir / "scale-source.db"
    await build(source, scale)
    results.add("scale_size", source.stat().st_size / 2**20)
    path = workdir / "scale.db"
    shutil.copy(source, path)
    await service_times(path, scale, calls, results)
    await year_of_claims(scale, calls, workdir, results)
    # the bot itself on that database
    shutil.copy(source, path)
    kinds = chat_ids(scale)
    async with TelegramSimulator(token=TOKEN) as sim:
        commander = sim.add_user(PERSON_BASE, "Person 0", username="person0", language_code="fr")
        chats = [
            sim.add_chat(chat_id, "supergroup", title=f"ops {i}", members=[commander])
            for i, chat_id in enumerate(kinds["operations"][:20])
        ]
        config = bot_config(
            sim,
            path,
            people=[{"id": PERSON_BASE, "name": "Person 0", "roles": ["commander"]}],
        )
        bot = BotProcess.passerelle(config, workdir, "passerelle-scale")
        await bot.start()
        try:
            results.add("scale_start", await first_get_updates(sim, bot, 60))
            start = len(sim.calls)
            for chat in chats:
                await sim.send_text(commander, chat, "/status")
                await sim.send_text(commander, chat, "/roster ambulance")
            await wait_until(
                lambda: (
                    sum(1 for c in sim.calls[start:] if c.method == "sendMessage") >= 2 * len(chats)
                ),
                60,
                "the answers",
                bot,
            )
            await asyncio.sleep(0.5)
            results.add("scale_rss", bot.rss_mb())
        finally:
            await bot.stop()
