"""The tests' own PostgreSQL databases: those a killed run left are dropped at the next
session's start (tests.backends.sweep), and only those."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from tests import backends

pytestmark = pytest.mark.postgres_only


def _gone_pid() -> int:
    """The id of a process that has ended."""
    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    assert not backends.alive(probe.pid)
    return probe.pid


async def _names(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", backends.PREFIX
    )
    return {row[0] for row in rows}


async def test_only_the_leftovers_of_dead_processes_of_this_machine_are_dropped(
    backend: str,
) -> None:
    gone = _gone_pid()
    living = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    conn = await asyncpg.connect(backends.SERVER)
    busy_conn: asyncpg.Connection | None = None
    left = backends.database_name(pid=gone)
    left_template = backends.database_name(pid=gone, template=True)
    of_living = backends.database_name(pid=living.pid)
    elsewhere = "000000" if backends.HOST != "000000" else "111111"
    other_host = backends.database_name(pid=gone, host=elsewhere)
    busy = backends.database_name(pid=gone)
    old_form = f"{backends.PREFIX}0123456789ab"
    made = [left, left_template, of_living, other_host, busy, old_form]
    try:
        for name in made:
            await conn.execute(f'CREATE DATABASE "{name}"')
        busy_conn = await asyncpg.connect(backends.url_of(busy))  # someone is working in it

        dropped = await backends.sweep(conn)

        assert left in dropped and left_template in dropped
        names = await _names(conn)
        assert left not in names and left_template not in names
        # kept: a live process's, another machine's, one in use, one it cannot read
        assert {of_living, other_host, busy, old_form} <= names
        assert not {of_living, other_host, busy, old_form} & set(dropped)
        # this session's own databases (its template, this test's) are untouched
        assert backends.current is not None
        assert backends.current.rsplit("/", 1)[1] in names
    finally:
        if busy_conn is not None:
            await busy_conn.close()
        living.kill()
        await living.wait()
        for name in made:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def test_every_test_database_name_says_where_it_was_made() -> None:
    name = backends.database_name()
    match = backends.NAME.match(name)
    assert match is not None and len(name) < 64
    assert match.group(1) == backends.HOST
    assert int(match.group(2)) == os.getpid()
    template = backends.database_name(template=True)
    assert backends.NAME.match(template) is not None
