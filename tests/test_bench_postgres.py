"""The benchmark on PostgreSQL keeps working: `python -m bench --quick --backend both` prints
the throughput and fan-out rows for SQLite and PostgreSQL side by side, and the instances
scenario (one instance, then two in webhook mode behind the stand-in's proxy) its rows, both
instances having taken deliveries and every effect having happened once. The run's databases
are dropped after. Nothing here asserts on time or speed (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from bench.__main__ import main
from bench.common import DATABASE_PREFIX, POSTGRESQL, SQLITE, Metric, Results, free_port
from tests import backends

ROOT = Path(__file__).resolve().parent.parent

# rows with a figure on both backends
BOTH = (
    "Passerelle: updates/s",
    "Passerelle: answered commands/s",
    "latency p50 at 100 updates/s",
    "latency p99 at 100 updates/s",
    "fan-out: groups that received it",
    "fan-out: /alert to last delivery",
    "fan-out: outbox rows not sent",
)
# rows with a figure on PostgreSQL only
POSTGRES_ONLY = (
    "PostgreSQL server CPU time per update",
    "instances: one instance, updates/s",
    "instances: one instance, answered commands/s",
    "instances: two instances together, updates/s",
    "instances: two instances together, answered commands/s",
    "instances: ratio two / one",
    "instances: deliveries taken by the less busy of the two",
    "instances: effects lost or doubled",
    "instances: bot CPU per update, two instances",
)


def _cells(lines: list[str], row: str) -> list[str]:
    matching = [line for line in lines if line.startswith(row)]
    assert matching, f"no row {row!r} in:\n" + "\n".join(lines)
    return [c.strip() for c in matching[0].split("|")]


async def _bench_databases(server: str, pid: int) -> list[str]:
    conn = await asyncpg.connect(server)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            f"{DATABASE_PREFIX}{pid}_%",
        )
    finally:
        await conn.close()
    return [r["datname"] for r in rows]


@pytest.mark.postgres_only
def test_quick_bench_side_by_side_and_two_instances(backend: str) -> None:
    server = backends.current
    assert server is not None
    argv = ["--quick", "--backend", "both", "--only", "throughput,fanout,instances"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", *argv, "--postgres", server],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    lines = out.splitlines()
    header = _cells(lines, "measure")
    assert header[1].startswith("SQLite") and header[2].startswith("PostgreSQL"), header
    for row in BOTH:
        cells = _cells(lines, row)
        # a figure in each column, not n/a nor –: the scenario really ran on both
        for cell in cells[1:3]:
            assert cell[:1].isdigit(), (row, cells)
    for row in POSTGRES_ONLY:
        cells = _cells(lines, row)
        assert cells[1] == "–" and cells[2][:1].isdigit(), (row, cells)
    assert _cells(lines, "instances: effects lost or doubled")[2] == "0"
    assert _cells(lines, "fan-out: outbox rows not sent")[1:3] == ["0", "0"]
    share = float(_cells(lines, "instances: deliveries taken by the less")[2].split()[0])
    assert share > 0  # both instances took deliveries (the scenario fails otherwise too)
    assert backends.run(_bench_databases(server, proc.pid)) == [], "a run's database was left"


def test_the_table_has_a_column_per_backend() -> None:
    results = Results()
    results.define(Metric("a", "rate", "/s", "≥ 10", lambda v: v >= 10, digits=0))
    results.define(Metric("b", "only there", "ms"))
    for backend, values in ((SQLITE, (12.0, 14.0)), (POSTGRESQL, (8.0, 9.0, 7.0))):
        results.backend = backend
        for value in values:
            results.add("a", value)
    results.add("b", 2.5)
    lines = results.table(3).splitlines()
    assert [c.strip() for c in lines[0].split("|")] == [
        "measure",
        "SQLite: median of 3 (spread)",
        "PostgreSQL: median of 3 (spread)",
        "target",
        "SQLite / PostgreSQL",
    ]
    assert [c.strip() for c in lines[2].split("|")] == [
        "rate",
        "13 /s (12 – 14)",
        "8 /s (7 – 9)",
        "≥ 10",
        "met / MISSED",
    ]
    assert [c.strip() for c in lines[3].split("|")] == ["only there", "–", "2.5 ms", "", ""]
    # one backend: the table as before
    single = Results()
    single.define(Metric("a", "rate", "/s", digits=0))
    single.add("a", 5.0)
    assert single.table(1).splitlines()[0].split("|")[1].strip() == "median of 1"


def test_a_scenario_asked_for_on_a_backend_it_does_not_run_on_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "instances", "--backend", "sqlite"])
    assert "instances runs on PostgreSQL only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--only", "scale", "--backend", "postgresql"])
    assert "scale runs on SQLite only" in capsys.readouterr().err


def test_no_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "fanout", "--backend", "postgresql", "--postgres", _nowhere()])
    assert "is not reachable" in capsys.readouterr().err


def _nowhere() -> str:
    """A PostgreSQL address where nothing listens."""
    return f"postgresql://127.0.0.1:{free_port()}/test"
