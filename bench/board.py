"""The situation board (issue 14), two measures:

1. the incident page's server time: `GET /board/api/incidents/<ref>` on the scale database
   (bench/generate.py), its busiest open incidents given what a long incident gathers (a few
   hundred timeline entries with photos and places, resource requests with each unit's path,
   alerts with their acknowledgements, statements, phases; at-risk sites around), asked over
   HTTP on 127.0.0.1 from a signed-in board, one request at a time: p50, p95, p99;
2. open boards while the throughput scenario runs (bench/throughput.py's world and stream):
   the same bot three times on a fresh database, without boards, with one board per user (200)
   listening to the live changes, and with those boards also reading the incident again after
   each change as the page does (at most once a second each). The boards run in their own
   process (bench/board_clients.py). Measured: the bot's updates/s and CPU per update in each
   case, whether every board received the last version of its incident, and how long after
   the last change the last board had it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench import throughput
from bench.board_clients import sign_in
from bench.common import (
    ROOT,
    TOKEN,
    BenchError,
    BotProcess,
    Metric,
    Results,
    Store,
    bot_config,
    first_get_updates,
    free_port,
    percentile,
)
from bench.generate import PERSON_BASE, Scale, build, chat_ids
from bot.core.models import Level, ResourceType, SiteKind
from bot.simulator import TelegramSimulator

# the person who opens the board in the page-time measure: Person 0 of the scale database
# (a commander), made the commander of the busy incidents and an author in their chats
BOARD_PERSON = PERSON_BASE


@dataclass(frozen=True)
class Busy:
    """What each busy incident gathers on top of the scale database's rows."""

    incidents: int = 50
    entries: int = 300
    photos: int = 20
    requests: int = 4
    units_per_request: int = 3
    alerts: int = 2
    alert_chats: int = 40
    statements: int = 2
    sites: int = 300


# as the register stores them: codes separated by ";"
HAZARDS = ("toxic_cloud;fire", "chlorine;toxic_cloud", "hydrocarbons;fire;explosion")

QUICK_BUSY = Busy(incidents=3, entries=40, photos=4, requests=2, alert_chats=5, sites=30)


def _metrics(results: Results, boards: int, rate: float) -> None:
    ms = "ms"
    results.define(
        Metric("board_page_p50", "board: incident page, time per request p50", ms, digits=2)
    )
    results.define(Metric("board_page_p95", "board: incident page, p95", ms, digits=2))
    results.define(
        Metric(
            "board_page_p99",
            "board: incident page, p99",
            ms,
            "≤ 50 ms",
            lambda v: v <= 50,
            digits=2,
        )
    )
    results.define(Metric("board_page_kb", "board: incident page, JSON size", "kB", digits=0))
    results.define(
        Metric("board_overview_p99", "board: overview (incident list) p99", ms, digits=2)
    )
    results.define(Metric("board_tp_without", "board: updates/s, no board open", "/s", digits=0))
    results.define(
        Metric("board_tp_with", f"board: updates/s, {boards} boards open", "/s", digits=0)
    )
    results.define(
        Metric(
            "board_tp_ratio",
            f"board: ratio with {boards} boards / without",
            "",
            "≥ 0.90",
            lambda v: v >= 0.90,
            digits=2,
        )
    )
    results.define(Metric("board_cpu_without", "board: bot CPU per update, no board", ms, digits=2))
    results.define(
        Metric("board_cpu_with", f"board: bot CPU per update, {boards} boards", ms, digits=2)
    )
    results.define(
        Metric(
            "board_complete",
            "board: boards that received every change",
            "",
            f"{boards}",
            lambda v: v >= boards,
            digits=0,
        )
    )
    results.define(
        Metric(
            "board_catchup",
            "board: last change to last board up to date",
            "s",
            "≤ 2 s",
            lambda v: v <= 2.0,
            digits=2,
        )
    )
    results.define(
        Metric(
            "board_delay_p50",
            f"board: a change to each board p50 at {rate:.0f} updates/s",
            ms,
            digits=1,
        )
    )
    results.define(
        Metric(
            "board_delay_p99",
            f"board: a change to each board p99 at {rate:.0f} updates/s",
            ms,
            "≤ 2,000 ms",
            lambda v: v <= 2000,
            digits=1,
        )
    )
    results.define(Metric("board_events", "board: change events per board (median)", "", digits=0))
    results.define(Metric("board_reconnects", "board: event streams reopened", "", digits=0))
    results.define(
        Metric("board_resyncs", "board: told to read everything again (resync)", "", digits=0)
    )
    results.define(
        Metric("board_clients_cpu", "board: the boards' own CPU (their process)", "s", digits=1)
    )
    results.define(
        Metric(
            "board_tp_refetch",
            f"board: updates/s, {boards} boards reading each change",
            "/s",
            digits=0,
        )
    )
    results.define(
        Metric("board_refetch_ratio", "board: ratio with reading boards / without", "", digits=2)
    )
    results.define(
        Metric("board_refetch_p99", "board: a board's re-read under load p99", ms, digits=1)
    )


# --- 1. the incident page at scale ----------------------------------------------------------


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def busy_refs(scale: Scale, busy: Busy) -> list[int]:
    """The newest open incidents of the scale database."""
    first_open = scale.incidents * 95 // 100 + 1
    return list(range(max(first_open, scale.incidents - busy.incidents + 1), scale.incidents + 1))


def enrich(path: Path, scale: Scale, busy: Busy, seed: int = 14) -> list[int]:
    """Give the busiest open incidents of a scale database what a long incident gathers.
    Returns their refs."""
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    kinds = chat_ids(scale)
    refs = busy_refs(scale, busy)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    try:
        msg = 5_000_000
        unit_ids = [int(r[0]) for r in conn.execute("SELECT id FROM units ORDER BY id")]
        unit_cursor = 0
        for ref in refs:
            chat_id, lat, lon = conn.execute(
                "SELECT chat_id, lat, lon FROM incidents WHERE id = ?", (ref,)
            ).fetchone()
            start = now - timedelta(hours=6)
            conn.execute(
                "UPDATE incidents SET commander_id = ?, spokesperson_id = ?, severity = 'severe',"
                " location_text = ?, declared_at = ?, updated_at = ? WHERE id = ?",
                (
                    BOARD_PERSON,
                    PERSON_BASE + 1,
                    f"Zone industrielle {ref}",
                    _time(start),
                    _time(now),
                    ref,
                ),
            )
            # the timeline: notes, places, status changes, some of them photos
            step = timedelta(hours=6) / max(1, busy.entries)
            photo_every = max(1, busy.entries // max(1, busy.photos))
            for n in range(busy.entries):
                at = _time(start + n * step)
                author = BOARD_PERSON if n % 5 == 0 else PERSON_BASE + 1 + n % 40
                msg += 1
                if n % 10 == 3:
                    row: tuple[Any, ...] = (
                        "location",
                        author,
                        chat_id,
                        msg,
                        None,
                        lat + rnd.uniform(-0.02, 0.02),
                        lon + rnd.uniform(-0.02, 0.02),
                        at,
                    )
                elif n % 25 == 7:
                    row = ("status", author, chat_id, msg, "active", None, None, at)
                else:
                    text = f"point {n}: engin sur place, périmètre de sécurité de 200 m établi"
                    row = ("note", author, chat_id, msg, text, None, None, at)
                cursor = conn.execute(
                    "INSERT INTO timeline (incident_id, kind, author_id, chat_id, message_id,"
                    " text, lat, lon, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (ref, *row),
                )
                if row[0] == "note" and n % photo_every == 0:
                    conn.execute(
                        "INSERT INTO media_items (entry_id, incident_id, chat_id, message_id,"
                        " kind, author_id, caption, file_id, file_unique_id, file_size, width,"
                        " height, mime_type, at) VALUES (?, ?, ?, ?, 'photo', ?, ?, ?, ?, ?,"
                        " 1280, 960, 'image/jpeg', ?)",
                        (
                            cursor.lastrowid,
                            ref,
                            chat_id,
                            msg,
                            author,
                            row[4],
                            f"AgAC-bench-{msg}",
                            f"u{msg}",
                            180_000,
                            at,
                        ),
                    )
            # resource requests, each unit with its path
            types = list(ResourceType)
            for r in range(busy.requests):
                created = start + timedelta(minutes=10 + 20 * r)
                msg += 1
                cursor = conn.execute(
                    "INSERT INTO requests (incident_id, chat_id, type, quantity, committed,"
                    " status, requested_by, card_message_id, version, shown_version,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 3, 3, ?)",
                    (
                        ref,
                        chat_id,
                        types[(ref + r) % len(types)].value,
                        busy.units_per_request,
                        busy.units_per_request,
                        "filled" if r % 2 else "open",
                        BOARD_PERSON,
                        msg,
                        _time(created),
                    ),
                )
                request_id = cursor.lastrowid
                conn.execute(
                    "INSERT INTO incident_messages (chat_id, message_id, incident_id, purpose,"
                    " subject_id) VALUES (?, ?, ?, 'request', ?)",
                    (chat_id, msg, ref, request_id),
                )
                for k in range(busy.units_per_request):
                    unit_id = unit_ids[unit_cursor % len(unit_ids)]
                    unit_cursor += 1
                    stage = ("committed", "en_route", "on_scene", "released")[(r + k) % 4]
                    decided = created + timedelta(minutes=2)
                    en_route = decided + timedelta(minutes=3)
                    on_scene = en_route + timedelta(minutes=25)
                    released = on_scene + timedelta(hours=2)
                    order = ("committed", "en_route", "on_scene", "released").index(stage)
                    conn.execute(
                        "INSERT INTO request_offers (request_id, unit_id, distance_km,"
                        " eta_minutes, amount, status, offered_at, expires_at, decided_at,"
                        " decided_by, en_route_at, on_scene_at, released_at)"
                        " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, 'Agency', ?, ?, ?)",
                        (
                            request_id,
                            unit_id,
                            round(rnd.uniform(3, 40), 1),
                            rnd.randint(5, 45),
                            stage,
                            _time(created),
                            _time(created + timedelta(minutes=10)),
                            _time(decided),
                            _time(en_route) if order >= 1 else None,
                            _time(on_scene) if order >= 2 else None,
                            _time(released) if order >= 3 else None,
                        ),
                    )
                    if stage != "released":
                        conn.execute(
                            "UPDATE units SET status = 'committed', incident_id = ? WHERE id = ?",
                            (ref, unit_id),
                        )
            # alerts with their acknowledgements
            agencies = kinds["agency"]
            for a in range(busy.alerts):
                sent = start + timedelta(minutes=30 + 60 * a)
                texts = json.dumps(
                    {
                        "": f"Alerte {ref}/{a}: confinement des habitations dans un rayon de 1 km",
                        "fr": f"Alerte {ref}/{a}: confinement dans un rayon de 1 km",
                        "nl": f"Alarm {ref}/{a}: schuilen binnen een straal van 1 km",
                    }
                )
                cursor = conn.execute(
                    "INSERT INTO alerts (incident_id, author_id, severity, texts, origin_chat_id,"
                    " created_at, tally_version, tally_shown) VALUES (?, ?, 'severe', ?, ?, ?,"
                    " 1, 1)",
                    (ref, BOARD_PERSON, texts, chat_id, _time(sent)),
                )
                alert_id = cursor.lastrowid
                for c in range(busy.alert_chats):
                    target = agencies[(ref + c) % len(agencies)]
                    acked = c % 2 == 0
                    ack_at = _time(sent + timedelta(minutes=1 + c % 7))
                    conn.execute(
                        "INSERT OR IGNORE INTO alert_targets (alert_id, chat_id, message_id,"
                        " delivered_at, acked_at) VALUES (?, ?, ?, ?, ?)",
                        (alert_id, target, 100 + c, _time(sent), ack_at if acked else None),
                    )
                    if acked:
                        conn.execute(
                            "INSERT OR IGNORE INTO alert_acks (alert_id, chat_id, person_id, at)"
                            " VALUES (?, ?, ?, ?)",
                            (alert_id, target, PERSON_BASE + 100 + c, ack_at),
                        )
            # statements, published and a draft
            for s in range(busy.statements + 1):
                texts = json.dumps(
                    {
                        "": f"Communiqué {s}: la situation est sous contrôle.",
                        "fr": f"Communiqué {s}: la situation est sous contrôle.",
                        "nl": f"Persbericht {s}: de toestand is onder controle.",
                    }
                )
                decided = start + timedelta(hours=1 + s)
                conn.execute(
                    "INSERT INTO statements (incident_id, author_id, origin_chat_id, texts,"
                    " version, status, spokesperson_id, decided_by, decided_at, created_at)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                    (
                        ref,
                        BOARD_PERSON,
                        chat_id,
                        texts,
                        "published" if s < busy.statements else "draft",
                        PERSON_BASE + 1,
                        PERSON_BASE + 1,
                        _time(decided),
                        _time(decided - timedelta(minutes=5)),
                    ),
                )
            for side, level in (("FR", Level.DEPARTMENTAL), ("BE", Level.PROVINCIAL)):
                conn.execute(
                    "INSERT INTO incident_phases (incident_id, country, level, started_at,"
                    " started_by) VALUES (?, ?, ?, ?, ?)",
                    (ref, side, level.value, _time(start + timedelta(minutes=40)), BOARD_PERSON),
                )
            conn.execute(
                "UPDATE cards SET version = version + ?, shown_version = version + ?"
                " WHERE incident_id = ?",
                (busy.entries, busy.entries, ref),
            )
        site_kinds = list(SiteKind)
        conn.executemany(
            "INSERT OR IGNORE INTO sites (code, name, kind, country, lat, lon, radius_km, hazards,"
            " population, plan, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    f"BENCH-SITE-{i}",
                    f"Site {i}",
                    site_kinds[i % len(site_kinds)].value,
                    ("FR", "BE")[i % 2],
                    50.0 + rnd.random() * 1.5,
                    2.5 + rnd.random() * 2.5,
                    (0.5, 1.0, 2.0, 5.0, 10.0)[i % 5],
                    HAZARDS[i % len(HAZARDS)],
                    1000 + 37 * i,
                    "PPI" if i % 2 == 0 else "PPUI",
                    _time(now),
                )
                for i in range(busy.sites)
            ],
        )
        conn.commit()
    finally:
        conn.close()
    return refs


def board_settings(port: int) -> dict[str, Any]:
    return {
        "board": {
            "enabled": True,
            "listen": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
        }
    }


async def wait_for_board(http: aiohttp.ClientSession, base: str, bot: BotProcess) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            # the labels need no session: any answer means the server is up
            async with http.get(f"{base}/board/api/strings?lang=fr") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if not bot.alive():
            raise BenchError(f"the bot exited before its board answered:\n{bot.log_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"the board at {base} did not answer in 60 s\n{bot.log_tail()}")
        await asyncio.sleep(0.1)


async def _get_json(
    http: aiohttp.ClientSession, url: str, cookie: str
) -> tuple[dict[str, Any], int]:
    async with http.get(url, headers={"Cookie": cookie}) as response:
        body = await response.read()
        if response.status != 200:
            raise BenchError(f"GET {url}: {response.status} {body[:300]!r}")
        return json.loads(body), len(body)


async def page_times(scale: Scale, busy: Busy, calls: int, workdir: Path, results: Results) -> None:
    path = workdir / "board-scale.db"
    await build(path, scale)
    refs = enrich(path, scale, busy)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with TelegramSimulator(token=TOKEN) as sim:
        config = bot_config(
            sim,
            path,
            people=[{"id": BOARD_PERSON, "name": "Person 0", "roles": ["commander"]}],
            extra=board_settings(port),
        )
        bot = BotProcess.passerelle(config, workdir, "passerelle-board-page")
        await bot.start()
        try:
            await first_get_updates(sim, bot, 60)
            async with aiohttp.ClientSession() as http:
                await wait_for_board(http, base, bot)
                user = {
                    "id": BOARD_PERSON,
                    "first_name": "Person 0",
                    "username": "person0",
                    "language_code": "fr",
                }
                cookie = await sign_in(http, base, TOKEN, user)
                sizes = []
                for ref in refs:  # every busy incident is visible, and a warm-up
                    _, size = await _get_json(http, f"{base}/board/api/incidents/{ref}", cookie)
                    sizes.append(size)
                # the measure is the server's time: this process's own collector (the scale
                # database it built) must not pause in the middle of a timed request
                gc.collect()
                gc.freeze()
                times = []
                for i in range(calls):
                    url = f"{base}/board/api/incidents/{refs[i % len(refs)]}"
                    started = time.perf_counter()
                    await _get_json(http, url, cookie)
                    times.append(1000 * (time.perf_counter() - started))
                results.add("board_page_p50", percentile(times, 50))
                results.add("board_page_p95", percentile(times, 95))
                results.add("board_page_p99", percentile(times, 99))
                results.add("board_page_kb", statistics.median(sizes) / 1000)
                overview = []
                for _ in range(max(10, calls // 5)):
                    started = time.perf_counter()
                    await _get_json(http, f"{base}/board/api/incidents", cookie)
                    overview.append(1000 * (time.perf_counter() - started))
                results.add("board_overview_p99", percentile(overview, 99))
        finally:
            await bot.stop()
    path.unlink()


# --- 2. open boards while the throughput scenario runs --------------------------------------


@dataclass
class Phase:
    rate: float
    cpu_ms: float
    boards: dict[str, Any] | None = None
    complete: int = 0
    catchup: float = float("nan")
    delays: list[float] = field(default_factory=list)


def _user_dict(user: Any) -> dict[str, Any]:
    data: dict[str, Any] = user.to_dict()
    data.pop("is_bot", None)
    return data


async def _stop_clients(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(30):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def live_phase(
    size: throughput.Size,
    workdir: Path,
    seed: int,
    mode: str,  # "none" | "listen" | "refetch"
) -> Phase:
    """One bot on a fresh database, the throughput world, optionally a board per user, the
    saturating stream."""
    store = Store(workdir / f"board-live-{mode}.db")  # SQLite only (docs/benchmarks.md)
    # time for the last events to reach the boards before they are checked (a miss is late
    # beyond the 2 s either way)
    settle = 5.0 if size.updates >= 1000 else 2.5
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with TelegramSimulator(token=TOKEN, enforce_limits=False) as sim:
        groups = throughput.build_world(sim, size)
        chats, people = throughput.config_entries(groups)
        config = bot_config(
            sim,
            store,
            chats=chats,
            people=people,
            rate_limit=False,
            extra=board_settings(port),
        )
        bot = BotProcess.passerelle(config, workdir, f"passerelle-board-{mode}")
        await bot.start()
        clients: asyncio.subprocess.Process | None = None
        out = workdir / f"boards-{mode}.json"
        try:
            await first_get_updates(sim, bot, 60)
            await throughput.declare_incidents(sim, groups, bot)
            # every member known in their group: a word each, as a reply to the card
            effects = await throughput.Effects.begin(sim, store)
            hello = []
            for g in groups:
                for user in g.members:
                    m = await sim.send_text(user, g.chat, "présent", reply_to=g.card_id)
                    hello.append(
                        throughput.Sent("reply", g.chat.id, time.time(), m.message_id, text=True)
                    )
            await throughput.wait_passerelle(effects, hello, bot)
            async with aiohttp.ClientSession() as http:
                await wait_for_board(http, base, bot)
                if mode != "none":
                    users = [_user_dict(u) for g in groups for u in g.members]
                    users_path = workdir / "board-users.json"
                    users_path.write_text(json.dumps(users), encoding="utf-8")
                    argv = [
                        sys.executable,
                        "-m",
                        "bench.board_clients",
                        "--base",
                        base,
                        "--users",
                        str(users_path),
                        "--out",
                        str(out),
                    ]
                    if mode == "refetch":
                        argv.append("--refetch")
                    env = dict(os.environ, BENCH_BOT_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
                    log = (workdir / f"boards-{mode}.log").open("wb")
                    clients = await asyncio.create_subprocess_exec(
                        *argv,
                        cwd=str(ROOT),
                        env=env,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=log,
                    )
                    log.close()
                    assert clients.stdout is not None
                    try:
                        async with asyncio.timeout(120):
                            line = await clients.stdout.readline()
                    except TimeoutError:
                        line = b""
                    if not line.startswith(b"ready"):
                        raise BenchError(
                            f"the boards did not open: {line!r}\n"
                            + (workdir / f"boards-{mode}.log").read_text(errors="replace")[-2000:]
                        )
                await asyncio.sleep(1.0)
                # the saturating stream, as in the throughput scenario
                effects = await throughput.Effects.begin(sim, store)
                cpu = bot.cpu_seconds()
                sent = await throughput.play(
                    sim, groups, throughput.plan(groups, size.updates, seed), rate=None
                )
                await throughput.wait_passerelle(effects, sent, bot)
                cpu_ms = 1000 * (bot.cpu_seconds() - cpu) / len(sent)
                done = (await throughput.passerelle_latencies(effects, sent))["done"]
                t0 = min(s.at for s, _ in done)
                last = max(t for _, t in done)
                phase = Phase(rate=len(sent) / (last - t0), cpu_ms=cpu_ms)
                if clients is None:
                    return phase
                # every board has its incident's last version (read as its commander's board)
                await asyncio.sleep(settle)
                finals = await _final_versions(http, base, groups)
                settled = time.time()
                # then the same boards at a steady rate: each change to each board
                steps = throughput.plan(groups, size.paced_updates, seed + 1)
                paced_effects = await throughput.Effects.begin(sim, store)
                paced = await throughput.play(sim, groups, steps, rate=size.rate)
                await throughput.wait_passerelle(paced_effects, paced, bot)
                paced_done = (await throughput.passerelle_latencies(paced_effects, paced))["done"]
                await asyncio.sleep(settle)
                paced_finals = await _final_versions(http, base, groups)
                await _stop_clients(clients)
                boards = json.loads(out.read_text(encoding="utf-8"))
                phase.boards = boards
                ref_of = {u.id: g.ref for g in groups for u in g.members}
                ref_of_chat = {g.chat.id: g.ref for g in groups}
                before = {
                    "boards": [
                        dict(b, events=[e for e in b["events"] if e[0] < settled])
                        for b in boards["boards"]
                    ]
                }
                phase.complete, phase.catchup = _check(
                    before, ref_of, finals, _last_changes(done, ref_of_chat, t0)
                )
                paced_complete, _ = _check(
                    boards, ref_of, paced_finals, _last_changes(paced_done, ref_of_chat, t0)
                )
                phase.complete = min(phase.complete, paced_complete)
                phase.delays = _delays(boards, ref_of, paced_done, ref_of_chat)
                return phase
        finally:
            if clients is not None:
                await _stop_clients(clients)
            await bot.stop()


def _last_changes(
    done: list[tuple[throughput.Sent, float]], ref_of_chat: dict[int, int], default: float
) -> dict[int, float]:
    """The time of the last change to each incident (a reply, /log, a location, a button),
    from its effect."""
    last = dict.fromkeys(ref_of_chat.values(), default)
    for s, t in done:
        if s.kind != "status":
            ref = ref_of_chat[s.chat_id]
            last[ref] = max(last[ref], t)
    return last


CHANGES = ("reply", "location", "log")


def _delays(
    boards: dict[str, Any],
    ref_of: dict[int, int],
    done: list[tuple[throughput.Sent, float]],
    ref_of_chat: dict[int, int],
) -> list[float]:
    """For each change stored at a steady rate (a reply, a location: the row's time; /log: its
    answer's) and each board showing its incident: the wait until that board received the
    first change event of the incident after it. (An event of the previous change arriving
    after this one was stored would count short: the rate leaves each incident about 0.5 s
    between changes, far more than the delays seen.)"""
    stored: dict[int, list[float]] = {}
    for s, t in done:
        if s.kind in CHANGES:
            stored.setdefault(ref_of_chat[s.chat_id], []).append(t)
    delays: list[float] = []
    for board in boards["boards"]:
        ref = ref_of[int(board["user"])]
        arrivals = sorted(
            at for at, event, data, _ in board["events"] if event == "change" and _ref(data) == ref
        )
        i = 0
        for t in sorted(stored.get(ref, [])):
            while i < len(arrivals) and arrivals[i] < t:
                i += 1
            if i < len(arrivals):
                delays.append(arrivals[i] - t)
            else:
                delays.append(float("inf"))
    return delays


def _ref(data: str) -> int | None:
    try:
        return int(json.loads(data)["ref"])
    except (ValueError, KeyError, TypeError):
        return None


async def _final_versions(
    http: aiohttp.ClientSession, base: str, groups: list[throughput.Group]
) -> dict[int, int]:
    finals: dict[int, int] = {}
    for g in groups:
        cookie = await sign_in(http, base, TOKEN, _user_dict(g.commander))
        data, _ = await _get_json(http, f"{base}/board/api/incidents/{g.ref}", cookie)
        finals[g.ref] = int(data.get("version", 0))
    return finals


def _check(
    boards: dict[str, Any],
    ref_of: dict[int, int],
    finals: dict[int, int],
    last_change: dict[int, float],
) -> tuple[int, float]:
    """Boards that received their incident's last version, and the longest time from the
    incident's last change to the event that brought it."""
    complete = 0
    lag = 0.0
    for board in boards["boards"]:
        ref = ref_of[int(board["user"])]
        final = finals.get(ref, 0)
        got: float | None = None
        for at, event, data, _ in board["events"]:
            if event == "resync" and at >= last_change[ref]:
                # the hub told a board that fell behind to read everything again: the page
                # does, and is up to date
                got = at
                break
            if event != "change":
                continue
            try:
                change = json.loads(data)
                if int(change["ref"]) != ref:
                    continue
                version = int(change.get("version", 0))
            except (ValueError, KeyError, TypeError):
                continue
            # the incident's last version; if the board's API gave none, an event after the
            # last change
            if (final and version >= final) or (not final and at >= last_change[ref]):
                got = at
                break
        if got is not None:
            complete += 1
            lag = max(lag, got - last_change[ref])
    return complete, lag if complete else float("nan")


async def live(size: throughput.Size, workdir: Path, seed: int, results: Results) -> None:
    phases: dict[str, Phase] = {}
    # alternate the order between runs, so that a drift of the machine favours no case
    order = ("none", "listen", "refetch") if seed % 2 else ("listen", "refetch", "none")
    for mode in order:
        phases[mode] = await live_phase(size, workdir, seed, mode)
    none, listen, reread = phases["none"], phases["listen"], phases["refetch"]
    results.add("board_tp_without", none.rate)
    results.add("board_tp_with", listen.rate)
    results.add("board_tp_ratio", listen.rate / none.rate)
    results.add("board_cpu_without", none.cpu_ms)
    results.add("board_cpu_with", listen.cpu_ms)
    results.add("board_complete", listen.complete)
    delays = [1000 * d for d in listen.delays]
    results.add("board_delay_p50", percentile(delays, 50))
    results.add("board_delay_p99", percentile(delays, 99))
    results.add("board_catchup", listen.catchup)
    assert listen.boards is not None and reread.boards is not None
    counts = [sum(1 for e in b["events"] if e[1] == "change") for b in listen.boards["boards"]]
    results.add("board_events", statistics.median(counts) if counts else 0)
    results.add("board_reconnects", sum(b["reconnects"] for b in listen.boards["boards"]))
    results.add(
        "board_resyncs",
        sum(1 for b in listen.boards["boards"] for e in b["events"] if e[1] == "resync"),
    )
    results.add("board_clients_cpu", float(listen.boards["cpu_seconds"]))
    results.add("board_tp_refetch", reread.rate)
    results.add("board_refetch_ratio", reread.rate / none.rate)
    rereads = [t for b in reread.boards["boards"] for t in b["refetch_ms"]]
    results.add("board_refetch_p99", percentile(rereads, 99))


async def run_once(
    scale: Scale,
    busy: Busy,
    calls: int,
    size: throughput.Size,
    workdir: Path,
    seed: int,
    results: Results,
) -> None:
    _metrics(results, size.users, size.rate)
    await page_times(scale, busy, calls, workdir, results)
    await live(size, workdir, seed, results)
