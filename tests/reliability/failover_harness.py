"""The failover harness: several Passerelle instances (`python -m bot`) on one database, the
stand-in delivering Telegram's webhooks round-robin to them, and SIGKILL of a random instance
at random moments, each killed instance started again after a pause.

    python -m tests.reliability.failover_harness --updates 2000 --kills 20 [--seed 7]
        [--instances 3] [--stalls 3] [--backend auto|sqlite|postgresql] [--keep DIR]
    python -m tests.reliability.failover_harness --polling --updates 600 --kills 6

The scenario is the crash harness's (tests/reliability/crash_harness.py): four operations
groups declare, reply to, locate, log, press and close incidents; the spokesperson publishes
statements; the liaison alerts 50 agency chats, whose duty officers acknowledge; commanders
request ambulances and the agencies commit or decline; about one press in five is made twice.

Webhook mode (the default): the instances listen on their own ports behind the stand-in's
reverse proxy (`TelegramSimulator.webhook.balance`): each update goes to the next instance in
turn, several chats at once and each chat in order; a delivery that fails (connection refused
while an instance is down, reset when it dies during the delivery, no answer within the
time-out while it is stuck) goes again to the next instance, until one answers 200. Telegram
considers an update delivered once an instance answered 200: right after each kill, every such
update must have its whole effect in the database, and at the end every update must have
been answered. Kills: half a few milliseconds after a delivery to the victim began (its unit
of work being stored), a quarter right after a /close was delivered to it, the rest at random.
Stalls: an instance stopped (SIGSTOP) for longer than the delivery time-out and then resumed
(SIGCONT): its deliveries go to the others meanwhile, and once it wakes up it handles them as
well: the same update handled by two instances must have one effect.

Polling mode (`--polling`): the instances poll; exactly one may (Telegram answers 409 to a
second getUpdates); the harness kills the one that polls and measures the time until another
polls, and checks that nothing confirmed by its getUpdates offset was lost.

The backend: PostgreSQL when this checkout has `[storage] url` and a server answers
(`PASSERELLE_TEST_POSTGRES`, default postgresql://127.0.0.1:5432/test; each run gets a fresh
database, dropped after), else one SQLite file. The counts are printed; a failure exits
non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import postgres_database, postgres_reachable
from bot.core.config import Settings, StorageSettings
from bot.core.db import Database
from bot.simulator import TelegramSimulator
from bot.simulator.webhook import REFUSED
from tests.reliability.crash_harness import (
    IN_FLIGHT,
    TOKEN,
    Bot,
    Counts,
    Scenario,
    _config,
    _roster,
    audit,
    check_effects,
    count,
)

POSTGRES_ENV = "PASSERELLE_TEST_POSTGRES"
POSTGRES_DEFAULT = "postgresql://127.0.0.1:5432/test"
PUBLIC_URL = "https://passerelle.example"  # the reverse proxy's address, set as the webhook
WEBHOOK_PATH = "tg"
SECRET = "failover-harness-secret"
# An instance that has not answered a delivery within this long has failed it (Telegram's
# own wait is longer; short here so that stalls show what a stuck instance does)
DELIVERY_TIMEOUT = 3.0
TAKEOVER_LIMIT = 10.0  # issue 15: another instance polls within 10 s of the leader's death


# --- what this checkout offers -----------------------------------------------------------------


def postgres_missing() -> str | None:
    """None when this checkout runs on PostgreSQL ([storage] url); else what is missing."""
    if "url" not in StorageSettings.model_fields:
        return "this checkout has no PostgreSQL backend ([storage] url, issue 15)"
    try:
        from bot.core import db
    except ImportError as exc:  # pragma: no cover - the package itself is broken
        return f"bot.core.db does not import: {exc}"
    if not hasattr(db, "database_for"):
        return "bot.core.db has no database_for (the backends' factory, issue 15)"
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed"
    return None


def polling_lease_missing() -> str | None:
    """None when this checkout elects one polling instance (issue 15's polling lease, with
    `[instance] name`); else what is missing."""
    migrations = Path(__file__).resolve().parents[2] / "bot" / "migrations"
    has_leases = any("leases" in p.read_text(encoding="utf-8") for p in migrations.glob("*.sql"))
    missing = []
    if not has_leases:
        missing.append("a leases table in bot/migrations")
    if "instance" not in Settings.model_fields:
        missing.append("[instance] name")
    if missing:
        return (
            "needs the polling lease of issue 15 (exactly one instance polls, another takes"
            f" over when it dies); this checkout lacks {' and '.join(missing)}"
        )
    return None


def _instance_names_supported() -> bool:
    return "instance" in Settings.model_fields


def commit() -> str:
    """The checkout's commit, for the figures."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip()


# --- the database ------------------------------------------------------------------------------


@dataclass
class Storage:
    """Where the instances keep their data: one SQLite file, or one PostgreSQL database."""

    backend: str  # "sqlite" or "postgresql"
    path: Path | None = None
    url: str | None = None

    def toml(self) -> str:
        if self.url is not None:
            return f"url = {json.dumps(self.url)}"
        return f"path = {json.dumps(str(self.path))}"

    def settings(self) -> StorageSettings:
        if self.url is not None:
            return StorageSettings(url=self.url)  # type: ignore[call-arg]
        return StorageSettings(path=str(self.path))

    def open(self) -> Database:
        """The bot's own database class, to read what the instances stored."""
        from bot.core import db

        factory: Callable[[StorageSettings], Database] | None = getattr(db, "database_for", None)
        if factory is not None:
            return factory(self.settings())
        sqlite: Callable[[str], Database] = getattr(db, "SqliteDatabase", Database)
        return sqlite(str(self.path))


async def choose_backend(
    wanted: str, workdir: Path, url: str | None = None
) -> tuple[str, str | None]:
    """("postgresql" | "sqlite", why not PostgreSQL when that was possible)."""
    if wanted == "sqlite":
        return "sqlite", None
    if url is not None:
        return "postgresql", None
    missing = postgres_missing()
    if missing is None:
        missing = await postgres_reachable(os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT))
    if missing is None:
        return "postgresql", None
    if wanted == "postgresql":
        raise SystemExit(f"PostgreSQL asked for, but {missing}")
    return "sqlite", missing


@asynccontextmanager
async def storage_for(
    backend: str, workdir: Path, seed: int, url: str | None = None
) -> AsyncIterator[Storage]:
    """A fresh database: a new SQLite file, or a new PostgreSQL database dropped after (`url`:
    an empty database given by the caller, left to it)."""
    if backend == "sqlite":
        yield Storage("sqlite", path=workdir / "failover.db")
        return
    if url is not None:
        yield Storage("postgresql", url=url)
        return
    server = os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT)
    async with postgres_database(server, prefix=f"passerelle_failover_{seed}_") as made:
        yield Storage("postgresql", url=made)


# --- the instances -----------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _without_table(text: str, name: str) -> str:
    """`text` without the TOML table `[name]` (its header and keys)."""
    header = f"[{name}]\n"
    if not text.startswith(header) and f"\n{header}" not in text:
        return text
    at = 0 if text.startswith(header) else text.index(f"\n{header}") + 1
    after = text.find("\n[", at + len(header) - 1)
    return text[:at] + (text[after + 1 :] if after != -1 else "")


def instance_config(
    sim: TelegramSimulator, storage: Storage, name: str, port: int, *, webhook: bool
) -> str:
    """The crash harness's configuration, for one instance: its own name (in its calls to the
    stand-in too), its own port, the shared database."""
    text = _config(sim, storage.path or Path("unused.db"), instance=None)
    head, rest = text.split("[storage]\n", 1)
    rest = rest[rest.index("\n[") + 1 :]  # the crash harness's storage lines (path, url)
    head = head.replace(json.dumps(sim.base_url), json.dumps(sim.base_url_for(name))).replace(
        json.dumps(sim.base_file_url), json.dumps(sim.base_file_url_for(name))
    )
    if webhook:
        head = head.replace("[telegram]\n", '[telegram]\nmode = "webhook"\n', 1)
    rest = _without_table(rest, "instance")  # the crash harness's own name, if it gives one
    lines = [head + "[storage]\n" + storage.toml() + "\n" + rest.rstrip("\n")]
    if webhook:
        lines += [
            "[webhook]",
            'listen = "127.0.0.1"',
            f"port = {port}",
            f"url = {json.dumps(f'{PUBLIC_URL}/{WEBHOOK_PATH}')}",
            f"url_path = {json.dumps(WEBHOOK_PATH)}",
            f"secret_token = {json.dumps(SECRET)}",
        ]
    lines += [
        "[board]",
        'listen = "127.0.0.1"',
        f"port = {port}",
        # behind the proxy, every instance links to the same public address
        f"public_url = {json.dumps(PUBLIC_URL)}",
    ]
    if _instance_names_supported():
        lines += ["[instance]", f"name = {json.dumps(name)}"]
    return "\n".join(lines) + "\n"


@dataclass
class Instance:
    name: str
    port: int
    bot: Bot
    kills: int = 0
    stalls: int = 0
    stalled: bool = False
    restarting: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{WEBHOOK_PATH}"

    @property
    def running(self) -> bool:
        return self.bot.process is not None

    async def kill(self) -> None:
        if self.bot.process is not None:
            await self.bot.kill()
        self.stalled = False
        self.kills += 1

    def stop_for_a_while(self) -> None:
        assert self.bot.process is not None
        os.kill(self.bot.process.pid, signal.SIGSTOP)
        self.stalled = True
        self.stalls += 1

    def resume(self) -> None:
        if self.bot.process is not None and self.stalled:
            os.kill(self.bot.process.pid, signal.SIGCONT)
        self.stalled = False


# --- the counts --------------------------------------------------------------------------------


@dataclass
class FailoverCounts(Counts):
    mode: str = "webhook"
    backend: str = "sqlite"
    backend_note: str | None = None  # why not PostgreSQL, when it could not be
    commit: str = ""
    instances: int = 3
    stalls: int = 0
    delivery_kills: int = 0  # a few ms after a delivery to the victim began
    answered: int = 0  # updates an instance answered 200 (webhook) / confirmed (polling)
    never_answered: int = 0
    deliveries: int = 0
    deliveries_by_instance: dict[str, int] = field(default_factory=dict)
    failed_deliveries: dict[str, int] = field(default_factory=dict)
    delivered_more_than_once: int = 0
    reached_two_instances: int = 0  # POSTed to two instances that took it (not refused)
    stopped_by_claim: int = 0  # an update handled again, found claimed (duplicate_update)
    lines_not_naming_instance: int = 0  # log lines without `instance=<its name>`
    longest_wait: float = 0.0  # first delivery to the 200, the longest
    takeovers: list[float] = field(default_factory=list)  # polling: kill → another polls
    conflicts: int = 0  # polling: getUpdates answered 409
    pollers_at_once: int = 0  # polling: another instance polled while the leader lived
    elapsed: float = 0.0

    @property
    def failures(self) -> int:
        """The moments that may repeat a message (a kill, or a stall that timed sends out)."""
        return self.kills + self.stalls

    def ok(self) -> bool:
        return (
            self.missing_after_kill == 0
            and self.missing_at_end == 0
            and self.never_answered == 0
            and self.doubled_timeline == 0
            and self.doubled_commitments == 0
            and self.over_committed_requests == 0
            and self.doubled_acks == 0
            and self.alert_missing == 0
            and self.statement_missing == 0
            and self.offer_missing == 0
            and self.evaluation_missing == 0
            and self.cards_stale == 0
            and self.outbox_not_sent == 0
            and self.token_in_log == 0
            and self.lines_not_naming_instance == 0
            and max(self.repeated_per_chat.values(), default=0) <= self.failures
            and self.repeated <= IN_FLIGHT * self.failures
            and all(t <= TAKEOVER_LIMIT for t in self.takeovers)
            and self.pollers_at_once == 0
        )


# --- checks (any backend, through the bot's own database class) ------------------------------


async def _final_checks(
    db: Database, sim: TelegramSimulator, scenario: Scenario, counts: FailoverCounts
) -> None:
    """The crash harness's end checks: nothing missing, nothing doubled, repeats counted."""
    counts.expectations = len(scenario.expects)
    await check_effects(db, scenario, counts, "end", "answered")
    unanswered = [e for e in scenario.expects if e.update_id not in scenario.confirmed]
    if unanswered:
        counts.problems.append(f"{len(unanswered)} updates with an effect never answered")
        counts.missing_at_end += len(unanswered)
    await audit(db, sim, scenario.statement_uids, counts)


def _delivery_counts(
    sim: TelegramSimulator, instances: list[Instance], counts: FailoverCounts
) -> None:
    pusher = sim.webhook
    name_of = {i.url: i.name for i in instances}
    counts.deliveries = len(pusher.deliveries)
    counts.deliveries_by_instance = dict(
        sorted((name_of.get(url, url), n) for url, n in pusher.by_url(ok=True).items())
    )
    counts.failed_deliveries = dict(sorted(pusher.failures().items()))
    posts: dict[int, int] = {}
    reached: dict[int, int] = {}
    answered: set[int] = set()
    first: dict[int, float] = {}
    answered_at: dict[int, float] = {}
    for d in pusher.deliveries:
        posts[d.update_id] = posts.get(d.update_id, 0) + 1
        if d.error != REFUSED:
            reached[d.update_id] = reached.get(d.update_id, 0) + 1
        first.setdefault(d.update_id, d.started)
        if d.ok:
            answered.add(d.update_id)
            answered_at.setdefault(d.update_id, d.ended)
    counts.delivered_more_than_once = sum(1 for n in posts.values() if n > 1)
    counts.reached_two_instances = sum(1 for n in reached.values() if n > 1)
    counts.answered = len(answered)
    counts.longest_wait = max((answered_at[u] - first[u] for u in answered_at), default=0.0)


def _read_logs(fleet: list[Instance], counts: FailoverCounts) -> None:
    named = _instance_names_supported()
    for instance in fleet:
        log = instance.bot.log.read_text(encoding="utf-8", errors="replace")
        counts.token_in_log += log.count(TOKEN)
        counts.stopped_by_claim += log.count("event=duplicate_update")
        if named:
            # each log line names its instance (a traceback's lines follow their record's)
            counts.lines_not_naming_instance += sum(
                1
                for line in log.splitlines()
                if " level=" in line and f" instance={instance.name} " not in line
            )


# --- running: webhook mode ---------------------------------------------------------------------


async def _settled(db: Database, sim: TelegramSimulator, timeout: float) -> None:  # noqa: ASYNC109
    """Until every update is answered, the outbox is empty and every card is shown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sim.world.updates.pending:
            async with db.read() as tx:
                due = await count(
                    tx, "SELECT count(*) FROM outbox WHERE status = 'pending'"
                ) + await count(tx, "SELECT count(*) FROM cards WHERE shown_version < version")
            if due == 0:
                await asyncio.sleep(1.0)  # a last edit in flight
                return
        await asyncio.sleep(0.2)
    raise TimeoutError("the instances did not settle")


async def _import_roster(config: Path, workdir: Path) -> None:
    roster = workdir / "roster.csv"
    roster.write_text(_roster(), encoding="utf-8")
    imported = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "roster",
        "import",
        str(roster),
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await imported.wait() == 0, "the roster import failed"


async def _started(sim: TelegramSimulator, instance: Instance, since: int, method: str) -> None:
    """Until the instance made a successful `method` call after call number `since`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(
            c.client == instance.name and c.method == method and c.ok for c in sim.calls[since:]
        ):
            return
        if instance.bot.process is None or instance.bot.process.returncode is not None:
            raise RuntimeError(f"{instance.name} stopped while starting: see {instance.bot.log}")
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{instance.name} did not start")


def _make_instances(
    sim: TelegramSimulator, storage: Storage, workdir: Path, number: int, *, webhook: bool
) -> list[Instance]:
    instances = []
    for n in range(1, number + 1):
        name, port = f"instance-{n}", _free_port()
        config = workdir / f"{name}.toml"
        config.write_text(
            instance_config(sim, storage, name, port, webhook=webhook), encoding="utf-8"
        )
        instances.append(Instance(name, port, Bot(config, workdir / f"{name}.log")))
    return instances


async def run(
    updates: int,
    kills: int,
    seed: int,
    workdir: Path,
    *,
    instances: int = 3,
    stalls: int = 0,
    backend: str = "auto",
    quiet: bool = False,
    prelude: str = "",
    database_url: str | None = None,
) -> FailoverCounts:
    """The webhook run: `instances` instances, `kills` SIGKILLs and `stalls` SIGSTOP/SIGCONT
    over `updates` updates. `prelude`: Python each instance runs first (a test's fault).
    `database_url`: an empty PostgreSQL database to use (else one is made, or a SQLite file)."""
    rng = random.Random(seed)
    chosen, note = await choose_backend(backend, workdir, database_url)
    counts = FailoverCounts(
        kills=kills, stalls=stalls, instances=instances, backend=chosen, backend_note=note
    )
    counts.commit = commit()
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_failover_bot", seed=seed)
    # Telegram's retries, shortened: soon, then every half second until an instance answers
    sim.webhook.retry_delays = (0.05, 0.1, 0.2, 0.5)
    await sim.start()
    try:
        async with storage_for(chosen, workdir, seed, database_url) as storage:
            await _run_webhook(sim, storage, rng, counts, updates, workdir, quiet, prelude)
    finally:
        await sim.stop()
    if not quiet:
        _print(counts)
    return counts


async def _run_webhook(
    sim: TelegramSimulator,
    storage: Storage,
    rng: random.Random,
    counts: FailoverCounts,
    updates: int,
    workdir: Path,
    quiet: bool,
    prelude: str,
) -> None:
    fleet = _make_instances(sim, storage, workdir, counts.instances, webhook=True)
    sim.webhook.balance([i.url for i in fleet], connections=16, timeout=DELIVERY_TIMEOUT)
    await _import_roster(fleet[0].bot.config, workdir)
    scenario = Scenario(sim, rng)
    db: Database | None = None
    started = time.monotonic()
    pushed = asyncio.Event()
    say: Callable[[str], None] = (lambda _: None) if quiet else (lambda s: print(s, flush=True))

    async def restart_later(instance: Instance) -> None:
        await asyncio.sleep(rng.uniform(0.3, 2.5))
        await instance.bot.start(prelude)

    def running() -> list[Instance]:
        return [i for i in fleet if i.running and not i.stalled]

    async def a_victim() -> Instance:
        """A running instance, while another one runs too (Telegram always finds one)."""
        while len(running()) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return rng.choice(running())

    async def push() -> None:
        while sim.world.updates.last_id < updates:
            while len(sim.world.updates.pending) > 60:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await scenario.step()
            counts.updates = sim.world.updates.last_id
            pushed.set()
            await asyncio.sleep(rng.choice([0.0, 0.0, 0.005, 0.02, 0.05]))

    async def until_update(moment: int) -> None:
        while counts.updates < moment:
            pushed.clear()
            await pushed.wait()

    async def kill_at_moments(moments: list[int]) -> None:
        assert db is not None
        for number, moment in enumerate(moments, start=1):
            await until_update(moment)
            after_delivery = number % 2 == 1
            after_close = number % 4 == 2
            victim: Instance | None = None
            if after_delivery:
                victim = await a_victim()
                seen = len(sim.webhook.deliveries)
                waited = time.monotonic()
                while time.monotonic() - waited < 5:
                    if any(d.url == victim.url for d in sim.webhook.deliveries[seen:]):
                        counts.delivery_kills += 1
                        break
                    await asyncio.sleep(0.0005)
                await asyncio.sleep(rng.random() * 0.005)
            elif after_close:
                # the instance a /close sent from now on is delivered to
                known = len(scenario.closes)
                seen = len(sim.webhook.deliveries)
                waited = time.monotonic()
                while victim is None and time.monotonic() - waited < 10:
                    fresh = set(scenario.closes[known:])
                    upto = len(sim.webhook.deliveries)
                    for d in sim.webhook.deliveries[seen:upto]:
                        target = next((i for i in fleet if i.url == d.url), None)
                        if d.update_id in fresh and target is not None and target in running():
                            victim = target
                            break
                    seen = upto
                    await asyncio.sleep(0.001)
                if victim is not None and len(running()) >= 2:
                    counts.close_kills += 1
                    await asyncio.sleep(rng.random() * 0.15)
                else:
                    victim = await a_victim()
            else:
                await asyncio.sleep(rng.random() * 0.5)
                victim = await a_victim()
            if victim not in running() or len(running()) < 2:
                victim = await a_victim()
            await victim.kill()  # at once: no other task runs between the check and the kill
            scenario.confirmed = sim.webhook.answered()
            before = counts.missing_after_kill
            await check_effects(db, scenario, counts, "kill", "answered")
            say(
                f"kill {number}/{len(moments)} of {victim.name} at update {counts.updates}:"
                f" {len(scenario.confirmed)} answered so far,"
                f" {counts.missing_after_kill - before} without their effect"
            )
            victim.restarting = asyncio.create_task(restart_later(victim))

    async def stall_at_moments(moments: list[int]) -> None:
        for number, moment in enumerate(moments, start=1):
            await until_update(moment)
            victim = await a_victim()
            victim.stop_for_a_while()
            await asyncio.sleep(DELIVERY_TIMEOUT * 1.5)
            victim.resume()
            say(f"stall {number}/{len(moments)} of {victim.name} at update {counts.updates}")

    span = range(max(1, updates // 20), max(2, updates - updates // 20))
    kill_moments = sorted(rng.sample(span, counts.kills))
    stall_moments = sorted(rng.sample(span, counts.stalls))
    try:
        first, *others = fleet
        await first.bot.start(prelude)  # the first one migrates the database
        await _started(sim, first, 0, "setWebhook")
        for instance in others:
            await instance.bot.start(prelude)
        for instance in others:
            await _started(sim, instance, 0, "setWebhook")
        db = storage.open()
        await db.open()
        await asyncio.gather(push(), kill_at_moments(kill_moments), stall_at_moments(stall_moments))
        for instance in fleet:
            if instance.restarting is not None:
                await instance.restarting
        await _settled(db, sim, timeout=180)
        counts.elapsed = time.monotonic() - started
    finally:
        for instance in fleet:
            instance.resume()
            if instance.restarting is not None and not instance.restarting.done():
                instance.restarting.cancel()
            await instance.bot.stop()
    try:
        scenario.confirmed = sim.webhook.answered()
        _delivery_counts(sim, fleet, counts)
        counts.never_answered = counts.updates - counts.answered
        await _final_checks(db, sim, scenario, counts)
    finally:
        await db.close()
    _read_logs(fleet, counts)


# --- running: polling mode ---------------------------------------------------------------------


async def run_polling(
    updates: int,
    kills: int,
    seed: int,
    workdir: Path,
    *,
    instances: int = 3,
    backend: str = "auto",
    quiet: bool = False,
    database_url: str | None = None,
) -> FailoverCounts:
    """The polling run: `instances` instances in polling mode; `kills` times the one that
    polls is killed, and the time until another polls is measured."""
    rng = random.Random(seed)
    chosen, note = await choose_backend(backend, workdir, database_url)
    counts = FailoverCounts(
        mode="polling", kills=kills, instances=instances, backend=chosen, backend_note=note
    )
    counts.commit = commit()
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_failover_bot", seed=seed)
    await sim.start()
    try:
        async with storage_for(chosen, workdir, seed, database_url) as storage:
            await _run_polling(sim, storage, rng, counts, updates, workdir, quiet)
    finally:
        await sim.stop()
    if not quiet:
        _print(counts)
    return counts


def _polls(sim: TelegramSimulator, since: float) -> list[tuple[float, str]]:
    """(time, client) of the getUpdates calls answered 200 since `since` (time.time())."""
    return [
        (c.time, c.client)
        for c in sim.calls
        if c.method == "getUpdates" and c.ok and c.time >= since and c.client
    ]


async def _run_polling(
    sim: TelegramSimulator,
    storage: Storage,
    rng: random.Random,
    counts: FailoverCounts,
    updates: int,
    workdir: Path,
    quiet: bool,
) -> None:
    fleet = _make_instances(sim, storage, workdir, counts.instances, webhook=False)
    by_name = {i.name: i for i in fleet}
    await _import_roster(fleet[0].bot.config, workdir)
    scenario = Scenario(sim, rng)  # confirmed: the getUpdates offset (its hook on the queue)
    db: Database | None = None
    started = time.monotonic()
    pushed = asyncio.Event()
    say: Callable[[str], None] = (lambda _: None) if quiet else (lambda s: print(s, flush=True))

    async def restart_later(instance: Instance) -> None:
        await asyncio.sleep(rng.uniform(0.3, 2.5))
        await instance.bot.start()

    async def push() -> None:
        while sim.world.updates.last_id < updates:
            while len(sim.world.updates.pending) > 60:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await scenario.step()
            counts.updates = sim.world.updates.last_id
            pushed.set()
            await asyncio.sleep(rng.choice([0.0, 0.0, 0.005, 0.02, 0.05]))

    def poller() -> Instance | None:
        """The instance that polled last (within the last few seconds), if it runs."""
        recent = _polls(sim, time.time() - 5)
        if not recent:
            return None
        found = by_name.get(recent[-1][1])
        return found if found is not None and found.running else None

    async def kill_the_poller(moments: list[int]) -> None:
        assert db is not None
        since = time.time()  # the current poller's reign began
        for number, moment in enumerate(moments, start=1):
            while counts.updates < moment:
                pushed.clear()
                await pushed.wait()
            await asyncio.sleep(rng.random() * 0.5)
            leader = None
            while leader is None:
                leader = poller()
                await asyncio.sleep(0.01)
            # nobody but the leader polled during its reign
            others = {client for _, client in _polls(sim, since)} - {leader.name}
            counts.pollers_at_once += len(others)
            if others:
                counts.problems.append(f"{sorted(others)} polled while {leader.name} led")
            await leader.kill()
            killed = time.time()
            before = counts.missing_after_kill
            await check_effects(db, scenario, counts, "kill", "answered")
            # until another instance polls
            taken = None
            while taken is None and time.time() - killed < 3 * TAKEOVER_LIMIT:
                taken = next((p for p in _polls(sim, killed) if p[1] != leader.name), None)
                await asyncio.sleep(0.01)
            takeover = taken[0] - killed if taken is not None else 3 * TAKEOVER_LIMIT
            counts.takeovers.append(takeover)
            if taken is None or takeover > TAKEOVER_LIMIT:
                counts.problems.append(f"no instance polled {takeover:.1f} s after the kill")
            since = taken[0] if taken is not None else time.time()
            say(
                f"kill {number}/{len(moments)} of the poller {leader.name} at update"
                f" {counts.updates}: {taken[1] if taken else 'nobody'} polls after"
                f" {takeover:.1f} s; {counts.missing_after_kill - before} confirmed updates"
                " without their effect"
            )
            leader.restarting = asyncio.create_task(restart_later(leader))
        await asyncio.sleep(1.0)
        last = poller()
        others = {client for _, client in _polls(sim, since)} - {last.name if last else ""}
        counts.pollers_at_once += len(others)

    span = range(max(1, updates // 20), max(2, updates - updates // 20))
    kill_moments = sorted(rng.sample(span, counts.kills))
    try:
        first, *others = fleet
        await first.bot.start()  # the first one migrates the database, and polls
        await _started(sim, first, 0, "getUpdates")
        for instance in others:
            await instance.bot.start()
        for instance in others:
            await _started(sim, instance, 0, "getMe")
        db = storage.open()
        await db.open()
        await asyncio.gather(push(), kill_the_poller(kill_moments))
        for instance in fleet:
            if instance.restarting is not None:
                await instance.restarting
        await _settled(db, sim, timeout=180)
        counts.elapsed = time.monotonic() - started
    finally:
        for instance in fleet:
            if instance.restarting is not None and not instance.restarting.done():
                instance.restarting.cancel()
            await instance.bot.stop()
    try:
        counts.answered = len(scenario.confirmed)
        counts.never_answered = len(sim.world.updates.pending)
        counts.conflicts = sim.count_status(409, "getUpdates")
        await _final_checks(db, sim, scenario, counts)
    finally:
        await db.close()
    _read_logs(fleet, counts)


# --- printing ----------------------------------------------------------------------------------


def _rows(counts: FailoverCounts) -> list[tuple[str, object]]:
    failed = ", ".join(f"{k} {v}" for k, v in counts.failed_deliveries.items()) or "0"
    per = ", ".join(f"{k} {v}" for k, v in counts.deliveries_by_instance.items())
    rows: list[tuple[str, object]] = [
        ("backend", counts.backend + (f" ({counts.backend_note})" if counts.backend_note else "")),
        ("commit", counts.commit),
        ("mode", counts.mode),
        ("instances", counts.instances),
        ("updates sent", counts.updates),
        ("instance kills (SIGKILL) and restarts", counts.kills),
    ]
    if counts.mode == "webhook":
        rows += [
            ("kills a few ms after a delivery to the instance began", counts.delivery_kills),
            ("kills right after a /close was delivered to the instance", counts.close_kills),
            ("instance stalls (SIGSTOP, then SIGCONT)", counts.stalls),
            ("updates answered 200", counts.answered),
            ("updates never answered", counts.never_answered),
            ("deliveries (POSTs) in all", counts.deliveries),
            ("answered 200, per instance", per),
            ("failed deliveries, by outcome", failed),
            ("updates delivered more than once", counts.delivered_more_than_once),
            ("updates that reached two instances (not refused)", counts.reached_two_instances),
            ("longest from first delivery to 200", f"{counts.longest_wait:.1f} s"),
        ]
    else:
        takeovers = counts.takeovers
        rows += [
            ("updates confirmed (getUpdates offset)", counts.answered),
            ("takeovers measured", len(takeovers)),
            (
                "kill of the poller → another polls (median / max)",
                f"{sorted(takeovers)[len(takeovers) // 2]:.1f} s / {max(takeovers):.1f} s"
                if takeovers
                else "-",
            ),
            ("getUpdates answered 409", counts.conflicts),
            ("another instance polled while the poller lived", counts.pollers_at_once),
        ]
    rows += [
        ("updates handled again and stopped by their claim", counts.stopped_by_claim),
        ("effects checked right after the kills", counts.checks_after_kill),
        ("answered updates without their effect, after a kill", counts.missing_after_kill),
        ("updates with an expected effect, checked at the end", counts.expectations),
        ("of those, missing at the end", counts.missing_at_end),
        ("doubled timeline entries", counts.doubled_timeline),
        ("commitments (units committed)", counts.commits),
        ("doubled commitments", counts.doubled_commitments),
        ("requests over their quantity or miscounted", counts.over_committed_requests),
        ("acknowledgements", counts.acks),
        ("doubled acknowledgements", counts.doubled_acks),
        ("alerts / deliveries expected", f"{counts.alerts:,} / {counts.alert_deliveries:,}"),
        ("alert deliveries missing", counts.alert_missing),
        ("alert deliveries repeated", counts.alert_duplicates),
        (
            "statements published / missing / repeated",
            f"{counts.statements} / {counts.statement_missing} / {counts.statement_duplicates}",
        ),
        (
            "offers to agencies / missing / repeated",
            f"{counts.offers} / {counts.offer_missing} / {counts.offer_duplicates}",
        ),
        ("incidents closed", counts.closes),
        (
            "evaluation questions asked / missing / repeated",
            f"{counts.evaluations} / {counts.evaluation_missing} / {counts.evaluation_duplicates}",
        ),
        ("cards / not showing the final state", f"{counts.cards} / {counts.cards_stale}"),
        ("cards posted more than once (extra posts)", counts.card_duplicates),
        ("outbox rows not sent", counts.outbox_not_sent),
        ("bot token in the instances' logs", counts.token_in_log),
        (
            "log lines not naming their instance",
            counts.lines_not_naming_instance
            if _instance_names_supported()
            else "not checked (no [instance] name)",
        ),
        (f"repeated messages in all (at most {IN_FLIGHT} per kill or stall)", counts.repeated),
        (
            "most repeated in one chat (at most one per kill or stall)",
            max(counts.repeated_per_chat.values(), default=0),
        ),
        ("elapsed", f"{counts.elapsed:.0f} s"),
    ]
    return rows


def markdown(counts: FailoverCounts) -> str:
    """The counts as the table of docs/reliability.md."""
    lines = ["| count | value |", "|---|---|"]
    for name, value in _rows(counts):
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        lines.append(f"| {name.strip()} | {shown} |")
    return "\n".join(lines)


def _print(counts: FailoverCounts) -> None:
    rows = _rows(counts)
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for problem in counts.problems[:20]:
        print("PROBLEM:", problem)
    print("RESULT:", "OK" if counts.ok() else "FAILED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.failover_harness")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--stalls", type=int, default=3)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=["auto", "sqlite", "postgresql"], default="auto")
    parser.add_argument("--polling", action="store_true", help="the polling variant")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args(argv)

    def go(workdir: Path) -> FailoverCounts:
        if args.polling:
            missing = polling_lease_missing()
            if missing is not None:
                raise SystemExit(missing)
            return asyncio.run(
                run_polling(
                    args.updates,
                    args.kills,
                    args.seed,
                    workdir,
                    instances=args.instances,
                    backend=args.backend,
                )
            )
        return asyncio.run(
            run(
                args.updates,
                args.kills,
                args.seed,
                workdir,
                instances=args.instances,
                stalls=args.stalls,
                backend=args.backend,
            )
        )

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        counts = go(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="passerelle-failover-") as tmp:
            counts = go(Path(tmp))
    if args.markdown:
        print()
        print(markdown(counts))
    return 0 if counts.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
