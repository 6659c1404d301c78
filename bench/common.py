"""What every scenario shares: the bot as a subprocess, its configuration, the stand-in,
and the statistics of several runs."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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


def bot_config(
    sim: TelegramSimulator,
    db_path: Path,
    *,
    chats: Sequence[dict[str, Any]] = (),
    people: Sequence[dict[str, Any]] = (),
    min_edit_interval: float = 3.0,
    rate_limit: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    telegram: dict[str, Any] = {
        "token": TOKEN,
        "base_url": sim.base_url,
        "base_file_url": sim.base_file_url,
        "poll_timeout": 10,
    }
    if not rate_limit:
        telegram["rate_limit"] = False
    data: dict[str, Any] = {
        "telegram": telegram,
        "storage": {"path": str(db_path)},
        "i18n": {"default_language": "fr", "timezone": "Europe/Brussels"},
        "cards": {"min_edit_interval": min_edit_interval, "timeline_entries": 5},
        # no roll-call during a benchmark
        "roster": {"rollcall_time": ""},
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
    predicate: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109
    what: str,
    bot: BotProcess | None = None,
    interval: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if bot is not None and not bot.alive():
            raise BenchError(f"{bot.name} exited while waiting for {what}:\n{bot.log_tail()}")
        if time.monotonic() > deadline:
            tail = f"\n{bot.log_tail()}" if bot is not None else ""
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
    """One row of the table: a figure measured once per run."""

    key: str
    label: str
    unit: str
    target: str = ""
    # a predicate on the median, for "met"/"missed"; None: reported only
    check: Callable[[float], bool] | None = None
    values: list[float] = field(default_factory=list)
    digits: int = 1

    @property
    def median(self) -> float:
        good = [v for v in self.values if v == v]
        return statistics.median(good) if good else float("nan")

    def spread(self) -> str:
        good = [v for v in self.values if v == v]
        if len(good) < 2:
            return "–"
        return f"{self._fmt(min(good))} – {self._fmt(max(good))}"

    def verdict(self) -> str:
        if self.check is None:
            return ""
        median = self.median
        if median != median:
            return "n/a"
        return "met" if self.check(median) else "MISSED"

    def _fmt(self, value: float) -> str:
        if value != value:
            return "n/a"
        return f"{value:,.{self.digits}f}"

    def row(self) -> list[str]:
        return [
            self.label,
            f"{self._fmt(self.median)} {self.unit}".strip(),
            self.spread(),
            self.target,
            self.verdict(),
        ]


class Results:
    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.order: list[str] = []
        self.notes: list[str] = []

    def define(self, metric: Metric) -> None:
        if metric.key not in self.metrics:
            self.metrics[metric.key] = metric
            self.order.append(metric.key)

    def add(self, key: str, value: float) -> None:
        self.metrics[key].values.append(value)

    def table(self, runs: int) -> str:
        header = ["measure", f"median of {runs}", "spread (min – max)", "target", ""]
        rows = [header] + [self.metrics[k].row() for k in self.order]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        out = []
        for i, r in enumerate(rows):
            out.append(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if i == 0:
                out.append("-|-".join("-" * w for w in widths))
        return "\n".join(out)


def spread_ids(count: int, base: int) -> list[int]:
    return [base - i for i in range(count)]


def chunks(items: Iterable[Any], size: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    for item in items:
        if not out or len(out[-1]) >= size:
            out.append([])
        out[-1].append(item)
    return out
