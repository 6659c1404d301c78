"""python -m bench [--runs N] [--quick] [--only throughput,burst,fanout,...]
    [--backend sqlite|postgresql|both] [--postgres URL]

Starts the Telegram stand-in in this process and the bot (`python -m bot`) as a child process,
plays each scenario `--runs` times and prints one table: the median of the runs and their
spread. `--quick` is a tiny version (one run) that only checks the scripts still work.

--backend: where the bot keeps its data. On PostgreSQL each run gets a database of its own
(passerelle_bench_…, created on the --postgres server and dropped after). With `both`, the
table has a column per backend. throughput, burst and fanout run on either backend;
instances (one instance, then two together, in webhook mode) on PostgreSQL only; scale,
commit and board on SQLite only (each is skipped, with a note, where its backend is not
chosen).
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

from bench import board, burst, commit, fanout, instances, scale, throughput
from bench.common import (
    BACKEND_NAMES,
    POSTGRES_DEFAULT,
    POSTGRES_ENV,
    POSTGRESQL,
    SQLITE,
    Results,
    fresh_store,
    postgres_reachable,
)
from bench.generate import Scale

SCENARIOS = ("throughput", "burst", "fanout", "scale", "commit", "board", "instances")
# the backends each scenario runs on
BACKENDS = {
    "throughput": (SQLITE, POSTGRESQL),
    "burst": (SQLITE, POSTGRESQL),
    "fanout": (SQLITE, POSTGRESQL),
    "scale": (SQLITE,),  # a generated SQLite file (bench/generate.py)
    "commit": (SQLITE,),  # SQLite's commit itself
    "board": (SQLITE,),  # a generated SQLite file
    "instances": (POSTGRESQL,),  # several instances share one PostgreSQL database
}


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


async def run(runs: int, quick: bool, only: list[str], backends: list[str], server: str) -> Results:
    results = Results()
    if quick:
        size = throughput.Size(groups=4, users=16, updates=60, paced_updates=40, rate=100.0)
        replies, groups = 20, 12
        big = Scale(incidents=200, entries=2_000, units=100, chats=20, people=50, claims=2_000)
        calls = 20
        busy = board.QUICK_BUSY
        fleet = instances.QUICK
    else:
        size = throughput.Size()
        replies, groups = 200, 300
        big, calls = Scale(), 200
        busy = board.Busy()
        fleet = instances.Size()
    for run_index in range(runs):
        for name in only:
            for backend in [b for b in backends if b in BACKENDS[name]]:
                started = time.monotonic()
                results.backend = backend
                with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                    workdir = Path(tmp)
                    async with fresh_store(backend, workdir, name, server) as store:
                        if name == "throughput":
                            await throughput.run_once(size, workdir, 11 + run_index, results, store)
                        elif name == "burst":
                            await burst.run_once(replies, workdir, results, store)
                        elif name == "fanout":
                            await fanout.run_once(groups, workdir, results, store)
                        elif name == "scale":
                            await scale.run_once(big, calls, workdir, results)
                        elif name == "commit":
                            await commit.run_once(workdir, results, quick)
                        elif name == "board":
                            await board.run_once(
                                big, busy, 10 * calls, size, workdir, 11 + run_index, results
                            )
                        elif name == "instances":
                            await instances.run_once(fleet, workdir, 11 + run_index, results, store)
                elapsed = time.monotonic() - started
                print(
                    f"run {run_index + 1}/{runs}: {name} on {BACKEND_NAMES[backend]}"
                    f" done in {elapsed:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated: {', '.join(SCENARIOS)} (default: each that runs on --backend)",
    )
    parser.add_argument(
        "--backend",
        choices=(SQLITE, POSTGRESQL, "both"),
        default=SQLITE,
        help="the bot's database (default sqlite); both: a column per backend",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT),
        metavar="URL",
        help=f"the PostgreSQL server: a database there to connect to, the runs' databases are"
        f" created beside it (default ${POSTGRES_ENV}, else {POSTGRES_DEFAULT})",
    )
    args = parser.parse_args(argv)
    explicit = args.only is not None
    only = [s.strip() for s in (args.only or ",".join(SCENARIOS)).split(",") if s.strip()]
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    backends = [SQLITE, POSTGRESQL] if args.backend == "both" else [args.backend]
    skipped = [s for s in only if not set(BACKENDS[s]) & set(backends)]
    if skipped and explicit:
        parser.error(
            "; ".join(
                f"{s} runs on {' or '.join(BACKEND_NAMES[b] for b in BACKENDS[s])} only"
                for s in skipped
            )
            + " (--backend)"
        )
    for name in skipped:
        where = " or ".join(BACKEND_NAMES[b] for b in BACKENDS[name])
        print(f"note: {name} not run (it runs on {where} only)", file=sys.stderr)
    only = [s for s in only if s not in skipped]
    if POSTGRESQL in backends:
        problem = asyncio.run(postgres_reachable(args.postgres))
        if problem is not None:
            parser.error(problem)
    runs = 1 if args.quick else max(1, args.runs)
    started = datetime.now(UTC)
    results = asyncio.run(run(runs, args.quick, only, backends, args.postgres))
    print(f"Passerelle benchmarks{' (quick)' if args.quick else ''}")
    print(f"date: {started:%Y-%m-%d %H:%M} UTC; machine: {machine()}")
    print(f"backend: {', '.join(BACKEND_NAMES[b] for b in backends)}")
    print()
    print(results.table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
