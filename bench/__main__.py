"""python -m bench [--runs N] [--quick] [--only throughput,burst,fanout,scale,commit,board]

Starts the Telegram stand-in in this process and the bot (`python -m bot`) as a child process,
plays each scenario `--runs` times and prints one table: the median of the runs and their
spread. `--quick` is a tiny version (one run) that only checks the scripts still work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import board, burst, commit, fanout, scale, throughput
from bench.common import Results
from bench.generate import Scale

SCENARIOS = ("throughput", "burst", "fanout", "scale", "commit", "board")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines()
        ):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}"
    )


async def run(runs: int, quick: bool, only: list[str]) -> Results:
    results = Results()
    if quick:
        size = throughput.Size(groups=4, users=16, updates=60, paced_updates=40, rate=100.0)
        replies, groups = 20, 12
        big = Scale(incidents=200, entries=2_000, units=100, chats=20, people=50, claims=2_000)
        calls = 20
        busy = board.QUICK_BUSY
    else:
        size = throughput.Size()
        replies, groups = 200, 300
        big, calls = Scale(), 200
        busy = board.Busy()
    for run_index in range(runs):
        for name in only:
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                workdir = Path(tmp)
                if name == "throughput":
                    await throughput.run_once(size, workdir, 11 + run_index, results)
                elif name == "burst":
                    await burst.run_once(replies, workdir, results)
                elif name == "fanout":
                    await fanout.run_once(groups, workdir, results)
                elif name == "scale":
                    await scale.run_once(big, calls, workdir, results)
                elif name == "commit":
                    await commit.run_once(workdir, results, quick)
                elif name == "board":
                    await board.run_once(
                        big, busy, 10 * calls, size, workdir, 11 + run_index, results
                    )
            print(
                f"run {run_index + 1}/{runs}: {name} done in {time.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    runs = 1 if args.quick else max(1, args.runs)
    started = datetime.now(UTC)
    results = asyncio.run(run(runs, args.quick, only))
    print(f"Passerelle benchmarks{' (quick)' if args.quick else ''}")
    print(f"date: {started:%Y-%m-%d %H:%M} UTC; machine: {machine()}")
    print()
    print(results.table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
