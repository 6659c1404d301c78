"""The benchmark scripts keep working: `python -m bench --quick` prints every row of its
table. Nothing here asserts on time or speed (docs/benchmarks.md has the real figures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROWS = (
    "Passerelle: updates/s",
    "Passerelle: answered commands/s",
    "echo bot: updates/s",
    "ratio Passerelle / echo",
    "timeline entries stored/s",
    "latency p50, all queued at once",
    "latency p50 at 100 updates/s",
    "latency p99 at 100 updates/s",
    "Passerelle resident memory",
    "burst: shortest gap between two card edits",
    "burst: card edits",
    "burst: final card exactly right",
    "burst: 429 answers received",
    "fan-out: groups that received it",
    "fan-out: /alert to last delivery",
    "fan-out: 429 answers received",
    "fan-out: outbox rows not sent",
    "scale: database size",
    "scale: /status service time p99",
    "scale: /roster <type> <country> service time p99",
    "scale: nearest-unit search p99",
    "scale: start to first getUpdates",
    "scale: resident memory",
    "board: incident page, p99",
    "board: updates/s, no board open",
    "board: ratio with",
    "board: boards that received every change",
    "board: a change to each board p99",
    "board: last change to last board up to date",
)


def test_quick_bench_prints_every_row() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for row in ROWS:
        matching = [line for line in lines if line.startswith(row)]
        assert matching, f"no row {row!r} in:\n{done.stdout}"
        # a figure, not n/a: the scenario really ran
        assert "n/a" not in matching[0].split("|")[1], matching[0]
