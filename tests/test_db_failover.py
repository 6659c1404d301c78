"""A real PostgreSQL failover under the running bot: a primary and a synchronous streaming
standby (tests.pg_cluster), the bot given both addresses with
`target_session_attrs=read-write`. Users send updates; the primary stops as if it crashed
(pg_ctl stop -m immediate) while more arrive; the standby is promoted. The bot goes on
answering, and every update is stored once, on the new primary: those acknowledged before the
failover (synchronous replication: a commit returns once the standby has it) and those sent
while no server took writes.

Needs the server binaries (initdb, pg_basebackup, pg_ctl; PASSERELLE_PG_BIN, default Debian's
PostgreSQL 15): skipped with the reason when they are missing, failed when CI is set. About
15 s."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from bot.simulator import TelegramSimulator
from tests import pg_cluster
from tests.harness import Harness
from tests.test_db_connections import FAILED, _declare, _notes

DATABASE = "passerelle"


@pytest.fixture
def clusters() -> Iterator[pg_cluster.Clusters]:
    problem = pg_cluster.missing()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI is set: the failover test must not be skipped)")
        pytest.skip(problem)
    made = pg_cluster.Clusters()
    try:
        made.start()
        yield made
    finally:
        made.remove()


async def _create(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


async def _replication(url: str) -> tuple[str, str]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT application_name, sync_state FROM pg_stat_replication LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None, "the standby is not streaming"
    return row[0], row[1]


@pytest.mark.timeout(120)
async def test_the_bot_goes_on_after_a_primary_to_standby_failover(
    clusters: pg_cluster.Clusters,
    sim: TelegramSimulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary = clusters.url_of(clusters.primary_port, "postgres")
    await _create(primary)
    assert await _replication(primary) == (pg_cluster.STANDBY_NAME, "sync")
    h = Harness(
        sim,
        tmp_path / "failover.db",
        storage={"path": str(tmp_path / "unused.db"), "url": clusters.url(DATABASE)},
    )
    await h.start()
    try:
        await _declare(h)
        chats = [h.ops, h.ops_fr, h.ops_en]
        users = [h.commander, h.commander_fr, h.commander]
        before = {chat: len(sim.bot_messages(chat)) for chat in chats}
        sent = []
        for n in range(9):
            sent.append(f"note {n:02d}")
            await sim.send_text(users[n % 3], chats[n % 3], f"/log note {n:02d}")
        await h.settle()
        acknowledged = _notes(clusters.url_of(clusters.primary_port, DATABASE))
        assert acknowledged == dict.fromkeys(sent, 1)

        caplog.set_level(logging.INFO)
        clusters.stop_primary()
        for n in range(9, 15):
            sent.append(f"note {n:02d}")
            await sim.send_text(users[n % 3], chats[n % 3], f"/log note {n:02d}")
            await asyncio.sleep(0.2)
        await asyncio.to_thread(clusters.promote)
        new_primary = clusters.url_of(clusters.standby_port, DATABASE)
        for _ in range(300):  # the bot retries up to 5 s apart
            if len(_notes(new_primary)) == len(sent):
                break
            await asyncio.sleep(0.1)
        await h.settle()

        notes = _notes(new_primary)
        # everything acknowledged before the failover is on the new primary, and the rest too,
        # each once
        assert notes == dict.fromkeys(sent, 1), notes
        for chat in chats:
            assert not any(FAILED in (m.text or "") for m in sim.bot_messages(chat))
        answered = sum(
            sum("📝" in (m.text or "") for m in sim.bot_messages(chat)[before[chat] :])
            for chat in chats
        )
        assert answered == len(sent)
        messages = [r.getMessage() for r in caplog.records]
        assert sum("event=storage_lost" in m for m in messages) == 1, messages
        # the bot goes on
        await h.say(h.commander, h.ops_en, "/log note after")
        assert _notes(new_primary)["note after"] == 1
    finally:
        await h.stop()
