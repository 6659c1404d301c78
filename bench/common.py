"""What every scenario shares: the bot as a subprocess, its configuration, its database
(SQLite or PostgreSQL), the stand-in, and the statistics of several runs."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import socket
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bot.core.db.dialect import WRITER_LOCK, placeholders
from bot.simulator import TelegramSimulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424242:BENCH-token"

TomlValue = str | int | float | bool | list[Any] | dict[str, Any]


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for our configurations: tables of scalars and arrays of tables."""
    lines: list[str] = []
    for name, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            lines.append("")
        elif isinstance(value, list):
            for item in value:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
                lines.append("")
    return "\n".join(lines)


# --- the bot's database -----------------------------------------------------------------------

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
BACKEND_NAMES = {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}
POSTGRES_ENV = "PASSERELLE_BENCH_POSTGRES"
POSTGRES_DEFAULT = "postgresql://127.0.0.1:5432/test"
DATABASE_PREFIX = "passerelle_bench_"


class Store:
    """Where the bot of one run keeps its data (a SQLite file, or a PostgreSQL database when
    `url` is set), and a reader of it for the scenarios: `fetch` with SQLite's `?`
    placeholders, rows as tuples, on either backend."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url
        self._conn: asyncpg.Connection | None = None

    @property
    def backend(self) -> str:
        return SQLITE if self.url is None else POSTGRESQL

    def storage(self) -> dict[str, str]:
        """The [storage] table of the bot's configuration."""
        if self.url is None:
            return {"path": str(self.path)}
        return {"path": str(self.path), "url": self.url}

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.url is None:
            # a short blocking read, as the bot's WAL lets a reader in beside its writer
            conn = sqlite3.connect(self.path, timeout=5)
            try:
                return [tuple(r) for r in conn.execute(sql, tuple(params)).fetchall()]
            finally:
                conn.close()
        if self._conn is None:
            self._conn = await asyncpg.connect(self.url, timeout=10)
        return [tuple(r) for r in await self._conn.fetch(placeholders(sql), *params)]

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return (await self.fetch(sql, params))[0][0]

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def postgres_url(server: str, database: str) -> str:
    """The address of `database` on the server of `server` (another database's address)."""
    return urlsplit(server)._replace(path=f"/{database}").geturl()


@asynccontextmanager
async def postgres_database(server: str, prefix: str = DATABASE_PREFIX) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on `server` (its address), dropped after (connections
    still open to it are closed by force)."""
    name = f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield postgres_url(server, name)
    finally:
        admin = await asyncpg.connect(server, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def fresh_store(backend: str, workdir: Path, name: str, server: str) -> AsyncIterator[Store]:
    """The database of one run: a new SQLite file in `workdir`, or a new PostgreSQL database
    on `server` (named passerelle_bench_…), dropped after. The bot migrates it at its start."""
    path = workdir / f"{name}.db"
    if backend == SQLITE:
        store = Store(path)
        try:
            yield store
        finally:
            await store.close()
        return
    async with postgres_database(server) as url:
        store = Store(path, url)
        try:
            yield store
        finally:
            await store.close()


async def postgres_reachable(server: str) -> str | None:
    """None when a PostgreSQL server answers at `server`; else why not."""
    try:
        conn = await asyncpg.connect(server, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {server} is not reachable ({type(exc).__name__}: {exc})"
    await conn.close()
    return None


def postgres_cpu_seconds() -> float:
    """User and system CPU time of this machine's PostgreSQL server processes so far (Linux,
    /proc; a local server only). Backends that ended meanwhile are not counted: compare two
    readings while the bot holds its connections."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        name, _, fields = stat.partition(" (")[2].rpartition(")")
        if name != "postgres":
            continue
        utime, stime = fields.split()[11:13]
        total += int(utime) + int(stime)
    return total / os.sysconf("SC_CLK_TCK")


class WriterLock:
    """Where the time goes on PostgreSQL: samples, every `interval` seconds, the bot's writer
    lock (the advisory lock every unit of work takes first, bot/core/db/postgres.py) in the
    run's database: whether a unit holds it, whether that unit's server process is then
    working (`active`: a statement, the commit's flush) or waiting for the bot (`idle in
    transaction`: the bot's own Python, or the network, between two statements), and how many
    units wait for it. Also the database's transactions (pg_stat_database)."""

    SAMPLE = f"""
        SELECT
          (SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.objid = {WRITER_LOCK} AND l.granted
              AND l.database = d.oid LIMIT 1),
          (SELECT count(*) FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.objid = {WRITER_LOCK} AND NOT l.granted
              AND l.database = d.oid)
        FROM pg_database d WHERE d.datname = current_database()
    """

    def __init__(self, store: Store, interval: float = 0.01) -> None:
        assert store.url is not None
        self.url = store.url
        self.interval = interval
        self.samples: list[tuple[str | None, int]] = []
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self.transactions = 0

    async def _xacts(self) -> int:
        assert self._conn is not None
        # the statistics of ended transactions reach the view within about a second
        await self._conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            await self._conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
        )

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.url, timeout=10)
        self.transactions = -await self._xacts()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        assert self._conn is not None
        while True:
            row = await self._conn.fetchrow(self.SAMPLE)
            assert row is not None
            self.samples.append((row[0], int(row[1])))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop sampling; the transactions are counted a moment later (`settle`)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def count_transactions(self, settle: float = 1.5) -> int:
        """The database's transactions since `start` (after `settle` seconds, for the
        statistics of the last ones); the connection is closed after."""
        await asyncio.sleep(settle)
        try:
            self.transactions += await self._xacts()
        finally:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
        return self.transactions

    def share(self, *states: str | None) -> float:
        """% of the samples in which the lock's holder was in one of `states` (None: the lock
        was free)."""
        if not self.samples:
            return float("nan")
        return 100 * sum(1 for state, _ in self.samples if state in states) / len(self.samples)

    def waiting(self) -> float:
        """Units waiting for the lock, on average over the samples."""
        if not self.samples:
            return float("nan")
        return statistics.fmean(waiting for _, waiting in self.samples)


def bot_config(
    sim: TelegramSimulator,
    db: Path | Store,
    *,
    chats: Sequence[dict[str, Any]] = (),
    people: Sequence[dict[str, Any]] = (),
    min_edit_interval: float = 3.0,
    rate_limit: bool = True,
    extra: dict[str, Any] | None = None,
    client: str = "",
) -> dict[str, Any]:
    """The bot's configuration; `db` a SQLite file or a Store; `client`: the name its calls
    to the stand-in carry (SimCall.client), when several processes share it."""
    telegram: dict[str, Any] = {
        "token": TOKEN,
        "base_url": sim.base_url_for(client) if client else sim.base_url,
        "base_file_url": sim.base_file_url_for(client) if client else sim.base_file_url,
        "poll_timeout": 10,
    }
    if not rate_limit:
        telegram["rate_limit"] = False
    data: dict[str, Any] = {
        "telegram": telegram,
        "storage": db.storage() if isinstance(db, Store) else {"path": str(db)},
        "i18n": {"default_language": "fr", "timezone": "Europe/Brussels"},
        "cards": {"min_edit_interval": min_edit_interval, "timeline_entries": 5},
        # no roll-call during a benchmark
        "roster": {"rollcall_time": ""},
        # the board's web server on any free port: two runs side by side do not collide
        "board": {"port": 0},
    }
    data.update(extra or {})
    data["chats"] = list(chats)
    data["people"] = list(people)
    return data


class BotProcess:
    """`python -m bot --config FILE` (or another module) as a child process."""

    def __init__(self, argv: Sequence[str], workdir: Path, name: str) -> None:
        self.argv = list(argv)
        self.workdir = workdir
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0

    @classmethod
    def passerelle(cls, config: dict[str, Any], workdir: Path, name: str = "bot") -> BotProcess:
        path = workdir / f"{name}.toml"
        path.write_text(to_toml(config), encoding="utf-8")
        return cls([sys.executable, "-m", "bot", "--config", str(path)], workdir, name)

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        env["PYTHONUNBUFFERED"] = "1"
        log = self.log_path.open("wb")
        self.spawned_at = time.time()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=str(ROOT), env=env, stdout=log, stderr=log
        )
        log.close()
        self.profiler: asyncio.subprocess.Process | None = None
        spy = os.environ.get("BENCH_PYSPY")
        if spy and self.name == os.environ.get("BENCH_PYSPY_TARGET", "passerelle"):
            # profiling aid: sample the bot with py-spy (pip install py-spy; not a dependency)
            self.profiler = await asyncio.create_subprocess_exec(
                spy,
                "record",
                "--pid",
                str(self.proc.pid),
                "--format",
                "raw",
                "--rate",
                "200",
                "--output",
                str(self.workdir / f"{self.name}.pyspy.txt"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        """Resident memory now, from /proc (Linux)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        except OSError:
            return float("nan")
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User and system CPU time the process used so far, from /proc (Linux)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1]
        except OSError:
            return float("nan")
        utime, stime = fields.split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(timeout):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self.profiler is not None:
            await self.profiler.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float,  # noqa: ASYNC109
    what: str,
    bot: BotProcess | Sequence[BotProcess] | None = None,
    interval: float = 0.05,
) -> None:
    """Until `predicate` (plain, or a coroutine function: a read of the database) holds; the
    bot(s) must stay alive meanwhile."""
    bots = [] if bot is None else [bot] if isinstance(bot, BotProcess) else list(bot)
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return
        for one in bots:
            if not one.alive():
                raise BenchError(f"{one.name} exited while waiting for {what}:\n{one.log_tail()}")
        if time.monotonic() > deadline:
            tail = "".join(f"\n{one.name}:\n{one.log_tail()}" for one in bots)
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        await asyncio.sleep(interval)


async def first_get_updates(sim: TelegramSimulator, bot: BotProcess, timeout: float) -> float:  # noqa: ASYNC109
    """Seconds from spawning the bot to its first getUpdates call."""
    await wait_until(lambda: bool(sim.calls_to("getUpdates")), timeout, "getUpdates", bot)
    return sim.calls_to("getUpdates")[0].time - bot.spawned_at


class BenchError(Exception):
    pass


def db_time(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- results -------------------------------------------------------------------------------


@dataclass
class Metric:
    """One row of the table: a figure measured once per run, on each backend it ran on."""

    key: str
    label: str
    unit: str
    target: str = ""
    # a predicate on the median, for "met"/"missed"; None: reported only
    check: Callable[[float], bool] | None = None
    # backend → one value per run
    runs: dict[str, list[float]] = field(default_factory=dict)
    digits: int = 1

    def values(self, backend: str) -> list[float]:
        return [v for v in self.runs.get(backend, []) if v == v]

    def median(self, backend: str) -> float:
        good = self.values(backend)
        return statistics.median(good) if good else float("nan")

    def spread(self, backend: str) -> str:
        good = self.values(backend)
        if len(good) < 2:
            return "–"
        return f"{self._fmt(min(good))} – {self._fmt(max(good))}"

    def verdict(self, backend: str) -> str:
        if self.check is None:
            return ""
        median = self.median(backend)
        if median != median:
            return "n/a"
        return "met" if self.check(median) else "MISSED"

    def _fmt(self, value: float) -> str:
        if value != value:
            return "n/a"
        return f"{value:,.{self.digits}f}"

    def figure(self, backend: str) -> str:
        return f"{self._fmt(self.median(backend))} {self.unit}".strip()

    def row(self, backend: str) -> list[str]:
        return [
            self.label,
            self.figure(backend),
            self.spread(backend),
            self.target,
            self.verdict(backend),
        ]

    def side_by_side(self, backends: Sequence[str]) -> list[str]:
        """The label, then the median (and spread) on each backend, the target, the verdicts."""
        cells, verdicts = [], []
        for backend in backends:
            if backend not in self.runs:
                cells.append("–")
                verdicts.append("–")
                continue
            spread = self.spread(backend)
            cells.append(self.figure(backend) + (f" ({spread})" if spread != "–" else ""))
            verdicts.append(self.verdict(backend))
        verdict = " / ".join(verdicts) if self.check is not None else ""
        return [self.label, *cells, self.target, verdict]


class Results:
    """The figures of every run. `backend`: the backend the scenario now running uses; each
    figure added is filed under it."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.order: list[str] = []
        self.notes: list[str] = []
        self.backend = SQLITE

    def define(self, metric: Metric) -> None:
        if metric.key not in self.metrics:
            self.metrics[metric.key] = metric
            self.order.append(metric.key)

    def add(self, key: str, value: float) -> None:
        self.metrics[key].runs.setdefault(self.backend, []).append(value)

    def backends(self) -> list[str]:
        found = {b for m in self.metrics.values() for b in m.runs}
        return [b for b in (SQLITE, POSTGRESQL) if b in found]

    def table(self, runs: int) -> str:
        """One backend: median, spread, target, verdict. Several: a column per backend (the
        median and, in brackets, the spread of the runs), a verdict per backend."""
        backends = self.backends() or [self.backend]
        if len(backends) == 1:
            header = ["measure", f"median of {runs}", "spread (min – max)", "target", ""]
            rows = [self.metrics[k].row(backends[0]) for k in self.order]
        else:
            names = [f"{BACKEND_NAMES[b]}: median of {runs} (spread)" for b in backends]
            verdicts = " / ".join(BACKEND_NAMES[b] for b in backends)
            header = ["measure", *names, "target", verdicts]
            rows = [self.metrics[k].side_by_side(backends) for k in self.order]
        rows = [header, *rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        out = []
        for i, r in enumerate(rows):
            out.append(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if i == 0:
                out.append("-|-".join("-" * w for w in widths))
        return "\n".join(out)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spread_ids(count: int, base: int) -> list[int]:
    return [base - i for i in range(count)]


def chunks(items: Iterable[Any], size: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    for item in items:
        if not out or len(out[-1]) >= size:
            out.append([])
        out[-1].append(item)
    return out
