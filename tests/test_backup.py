"""Backups of the SQLite database (bot.core.backup): taken while writes go on, verified,
kept, refused when they should be, put back; the schedule in the running bot; the settings."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot import cli
from bot.core import backup, inuse
from bot.core.config import ConfigError, load_settings, parse_duration
from bot.core.db import SqliteDatabase
from bot.simulator import TelegramSimulator
from tests import backends
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent


async def _database(path: Path) -> None:
    """A migrated Passerelle database at `path`."""
    db = SqliteDatabase(path)
    await db.open()
    await db.close()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def _config(tmp_path: Path, database: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{database}"\n{extra}', encoding="utf-8")
    return config


# --- taking ----------------------------------------------------------------------------------


async def test_a_backup_taken_while_writes_go_on_is_one_consistent_snapshot(
    tmp_path: Path,
) -> None:
    database = tmp_path / "passerelle.db"
    await _database(database)
    with closing(sqlite3.connect(database, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE pairs (n INTEGER, half INTEGER, pad BLOB)")
        conn.executemany(
            "INSERT INTO pairs VALUES (?, ?, ?)",
            [(n // 2, n % 2, os.urandom(2000)) for n in range(4000)],
        )
    stop, going = threading.Event(), threading.Event()
    counts = {"written": 0, "refused": 0}

    def writer() -> None:
        # as the bot writes: BEGIN IMMEDIATE, never waiting (busy_timeout 0), two rows a
        # transaction; a backup holding the writer would make it fail with "locked"
        with closing(sqlite3.connect(database, isolation_level=None, timeout=0)) as conn:
            n = 10_000
            while not stop.is_set():
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("INSERT INTO pairs VALUES (?, 0, x'00')", (n,))
                    conn.execute("INSERT INTO pairs VALUES (?, 1, x'00')", (n,))
                    conn.execute("COMMIT")
                    counts["written"] += 1
                    n += 1
                    if counts["written"] >= 20:
                        going.set()
                except sqlite3.OperationalError:
                    counts["refused"] += 1
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert await asyncio.to_thread(going.wait, 10)
        before = counts["written"]
        # one page a step: many steps, with the writer committing between them
        taken = await asyncio.to_thread(backup.take, database, tmp_path / "backups", step_pages=1)
        during = counts["written"] - before
    finally:
        stop.set()
        thread.join()
    assert during > 0, "the writer was held while the copy ran"
    assert counts["refused"] == 0
    assert taken.path.parent == tmp_path / "backups"
    assert taken.path.name.startswith("passerelle-") and taken.path.name.endswith("Z.db")
    assert taken.schema_version == backup.latest_schema_version()
    # a whole snapshot: every transaction's two rows or neither, the copy started over never
    halves = _rows(taken.path, "SELECT n, COUNT(*) FROM pairs GROUP BY n HAVING COUNT(*) != 2")
    assert halves == []
    copied = _rows(taken.path, "SELECT COUNT(*) FROM pairs WHERE n >= 10000")[0][0]
    assert isinstance(copied, int) and 0 < copied // 2 < counts["written"]
    assert _rows(taken.path, "PRAGMA integrity_check") == [("ok",)]
    # a self-contained file, and nothing else left in the folder
    assert taken.path.read_bytes()[18:20] == b"\x01\x01"  # rollback journal, not WAL
    assert sorted(p.name for p in taken.path.parent.iterdir()) == [taken.path.name]


async def test_a_backup_that_cannot_be_written_leaves_no_file_named_like_one(
    tmp_path: Path,
) -> None:
    database = tmp_path / "passerelle.db"
    with pytest.raises(backup.BackupError, match="no database there"):
        backup.take(database, tmp_path / "backups")
    await _database(database)
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(backup.BackupError) as caught:
        backup.take(database, tmp_path / "taken")
    assert "\n" not in str(caught.value)
    # abandoned half-way (the bot stopping): the temporary file is removed
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(backup.BackupError, match="abandoned"):
        backup.take(database, tmp_path / "backups", step_pages=1, cancel=cancel)
    assert list((tmp_path / "backups").iterdir()) == []


async def test_two_backups_in_the_same_second_do_not_overwrite_each_other(
    tmp_path: Path,
) -> None:
    database = tmp_path / "passerelle.db"
    await _database(database)
    moment = datetime(2026, 11, 30, 19, 33, 12, tzinfo=UTC)
    first = backup.take(database, tmp_path / "b", now=moment)
    second = backup.take(database, tmp_path / "b", now=moment)
    assert first.path.name == "passerelle-20261130T193312Z.db"
    assert second.path.name == "passerelle-20261130T193312Z-1.db"
    assert [p for _, p in backup.backups_in(tmp_path / "b", database)] == [first.path, second.path]


async def test_prune_keeps_the_newest_and_only_touches_backups(tmp_path: Path) -> None:
    database = tmp_path / "passerelle.db"
    await _database(database)
    folder = tmp_path / "b"
    start = datetime(2026, 11, 1, tzinfo=UTC)
    taken = [backup.take(database, folder, now=start + timedelta(hours=6 * i)) for i in range(5)]
    (folder / "notes.txt").write_text("mine")
    (folder / "other-20261101T000000Z.db").write_text("another database's backup")
    stale = folder / ".passerelle-20261101T010101Z.db.0123abcd.partial"
    stale.write_bytes(b"half")
    old = (start - timedelta(days=1)).timestamp()
    os.utime(stale, (old, old))
    fresh = folder / ".passerelle-20261101T020202Z.db.4567cdef.partial"  # a copy under way
    fresh.write_bytes(b"half")
    gone = backup.prune(folder, database, keep=2)
    assert sorted(gone) == sorted([t.path for t in taken[:3]] + [stale])
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(
        [
            taken[3].path.name,
            taken[4].path.name,
            "notes.txt",
            "other-20261101T000000Z.db",
            fresh.name,
        ]
    )


# --- restoring -------------------------------------------------------------------------------


async def _with_incident(database: Path, title: str) -> None:
    await _database(database)
    with closing(sqlite3.connect(database, isolation_level=None)) as conn:
        conn.execute(
            "INSERT INTO chats (id, name, kind, country, languages, timezone, created_at)"
            " VALUES (-1, 'c', 'operations', 'FR', 'fr', 'Europe/Paris', '2026-11-30')"
        )
        conn.execute(
            "INSERT INTO incidents (chat_id, title, status, country, declared_at, updated_at)"
            " VALUES (-1, ?, 'active', 'FR', '2026-11-30', '2026-11-30')",
            (title,),
        )


def _titles(database: Path) -> list[object]:
    return [row[0] for row in _rows(database, "SELECT title FROM incidents ORDER BY id")]


async def test_restore_keeps_the_current_database_and_its_log_aside(tmp_path: Path) -> None:
    database = tmp_path / "passerelle.db"
    await _with_incident(database, "in the backup")
    taken = backup.take(database, tmp_path / "b")
    done = _restore_over_a_killed_bot(database, taken.path)
    assert done.aside == tmp_path / "passerelle.db.before-restore-20261201T080000Z"
    # the restored file alone: the log of the other one was not replayed into it
    assert _titles(database) == ["in the backup"]
    assert _rows(database, "PRAGMA integrity_check") == [("ok",)]
    # the database it replaced, with its log: nothing lost
    assert _titles(done.aside) == ["in the backup", "after the backup"]
    assert (done.schema_version, done.incidents, done.open_incidents) == (
        backup.latest_schema_version(),
        1,
        1,
    )
    # the bot opens it and migrates nothing
    db = SqliteDatabase(database)
    await db.open()
    async with db.read() as tx:
        row = await tx.one("SELECT title FROM incidents")
    await db.close()
    assert row is not None and row["title"] == "in the backup"


def _restore_over_a_killed_bot(database: Path, file: Path) -> backup.Restored:
    """The database goes on after the backup, and its last writes are only in the
    write-ahead log (a bot killed with SIGKILL leaves them so); then `file` is restored."""
    script = (
        "import os, sqlite3\n"
        f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        'c.execute("INSERT INTO incidents (chat_id, title, status, country, declared_at,'
        " updated_at) VALUES (-1, 'after the backup', 'active', 'FR', 'x', 'x')\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert Path(f"{database}-wal").stat().st_size > 0
    done = backup.restore(file, database, now=datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert not Path(f"{database}-wal").exists() and not Path(f"{database}-shm").exists()
    assert done.aside is not None and Path(f"{done.aside}-wal").exists()
    return done


async def test_restore_onto_no_database_puts_it_there(tmp_path: Path) -> None:
    source = tmp_path / "elsewhere" / "passerelle.db"
    source.parent.mkdir()
    await _with_incident(source, "only one")
    taken = backup.take(source, tmp_path / "b")
    target = tmp_path / "new" / "passerelle.db"
    done = backup.restore(taken.path, target)
    assert done.aside is None
    assert _titles(target) == ["only one"]


def _refused(tmp_path: Path, file: Path, *, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    database = tmp_path / "passerelle.db"
    before = database.read_bytes()
    code = cli.main(["restore", str(file), "--config", str(_config(tmp_path, database))])
    out, err = capsys.readouterr()
    assert out == ""
    assert database.read_bytes() == before, "the database was changed"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert not any(p.name.startswith("passerelle.db.before") for p in tmp_path.iterdir())
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return code, lines[0]


async def test_restore_refuses_what_is_not_a_sound_passerelle_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "passerelle.db"
    await _with_incident(database, "current")
    good = backup.take(database, tmp_path / "b")
    files = tmp_path / "files"
    files.mkdir()

    code, line = _refused(tmp_path, files / "missing.db", capsys=capsys)
    assert (code, line) == (1, f"{files / 'missing.db'}: no such file; nothing was restored")

    text = files / "notes.db"
    text.write_text("SQLite? no, a shopping list\n" * 200)
    code, line = _refused(tmp_path, text, capsys=capsys)
    assert (code, line) == (1, f"{text}: not a SQLite database; nothing was restored")

    other = files / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.commit()
    code, line = _refused(tmp_path, other, capsys=capsys)
    assert code == 1 and "not a Passerelle database (no incidents table)" in line

    newer = files / "newer.db"
    newer.write_bytes(good.path.read_bytes())
    ahead = backup.latest_schema_version() + 1
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute(f"PRAGMA user_version = {ahead}")
    code, line = _refused(tmp_path, newer, capsys=capsys)
    assert code == 1
    assert f"schema version {ahead} is newer than this Passerelle's ({ahead - 1})" in line

    damaged = files / "damaged.db"
    data = bytearray(good.path.read_bytes())
    # the incidents table's root page: find it, and scribble over its cell pointers
    root = _rows(good.path, "SELECT rootpage FROM sqlite_master WHERE name = 'incidents'")[0][0]
    assert isinstance(root, int)
    page = 4096 * (root - 1)
    data[page + 8 : page + 64] = b"\xff" * 56
    damaged.write_bytes(bytes(data))
    code, line = _refused(tmp_path, damaged, capsys=capsys)
    assert code == 1 and ("damaged" in line or "not a usable SQLite database" in line), line

    code, line = _refused(tmp_path, database, capsys=capsys)
    assert code == 1 and "this is the database itself" in line


async def test_restore_refuses_while_a_bot_or_command_has_the_database_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "passerelle.db"
    await _with_incident(database, "current")
    good = backup.take(database, tmp_path / "b")
    holding = await inuse.share(database, "the bot")
    try:
        code, line = _refused(tmp_path, good.path, capsys=capsys)
    finally:
        holding.release()
    assert code == 3
    assert line == (
        f"{database}: in use by a running bot or command (pid {os.getpid()}, the bot):"
        " stop it first; nothing was restored"
    )
    # stopped: it goes through
    assert cli.main(["restore", str(good.path), "--config", str(_config(tmp_path, database))]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"{database}: restored from {good.path}, schema version")
    assert "the database it replaces is kept as" in out


async def test_the_command_line_backup_says_what_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "passerelle.db"
    await _with_incident(database, "current")
    config = _config(tmp_path, database)
    for _ in range(3):
        assert cli.main(["backup", "--config", str(config), "--keep", "2"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and err == ""
    # the default folder: named after the database, beside it
    assert lines[0].startswith(f"{tmp_path / 'passerelle-backups'}/passerelle-")
    assert "verified (integrity ok), schema version" in lines[0]
    assert len(list((tmp_path / "passerelle-backups").iterdir())) == 2
    assert cli.main(["backup", str(tmp_path / "x" / "y"), "--config", str(config)]) == 0
    assert len(list((tmp_path / "x" / "y").iterdir())) == 1
    capsys.readouterr()
    missing = _config(tmp_path, tmp_path / "none.db")
    assert cli.main(["backup", "--config", str(missing)]) == 1
    _, err = capsys.readouterr()
    assert err == f"{tmp_path / 'none.db'}: no database there, nothing to back up\n"


# --- settings --------------------------------------------------------------------------------


def test_durations() -> None:
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(" 90s ") == timedelta(seconds=90)
    for wrong in ("6", "six hours", "6 hours", "-1h", "1.5h", "0s", "h"):
        with pytest.raises(ValueError):
            parse_duration(wrong)


def test_backup_settings_each_problem_on_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    config = tmp_path / "c.toml"
    config.write_text(
        '[storage]\npath = "p.db"\nbackup_every = "6 hours"\nbackup_keep = 0\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={}, require_token=False)
    assert caught.value.problems == [
        f'{config}:3: storage.backup_every: "6 hours" is not a duration like "6h", "30m", "1d"'
        ' or "1h30m" ("" for none)',
        f"{config}:4: storage.backup_keep: should be 1 or more, not 0",
    ]
    config.write_text(
        f'[storage]\npath = "{tmp_path / "p.db"}"\nbackup_every = "6h"\n'
        f'backup_dir = "blocker/backups"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={}, require_token=False)
    assert caught.value.problems == [
        f"{config}:4: storage.backup_dir: backups cannot be written there: {blocker} is not a"
        " directory"
    ]
    # without a schedule the folder is not looked at (the command line names its own)
    config.write_text(
        f'[storage]\npath = "{tmp_path / "p.db"}"\nbackup_dir = "blocker/backups"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={}, require_token=False)
    assert settings.storage.backup_interval is None
    assert settings.storage.backup_folder == tmp_path / "blocker" / "backups"


def test_on_postgresql_the_bot_takes_no_backups_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    url = "postgresql://127.0.0.1:5432/passerelle"
    config.write_text(
        f'[storage]\nurl = "{url}"\nbackup_every = "6h"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={}, require_token=False)
    assert caught.value.problems == [
        f"{config}:3: storage.backup_every: the bot backs up only its SQLite file; on PostgreSQL"
        " ([storage] url) use pg_dump or base backups (README, Backups)"
    ]
    config.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    for command in (["backup"], ["restore", str(tmp_path / "any.db")]):
        assert cli.main([*command, "--config", str(config)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (
            f"{command[0]}: the database is on PostgreSQL ([storage] url): use pg_dump and"
            " pg_restore, or base backups (README, Backups)\n"
        )


# --- the schedule in the running bot -----------------------------------------------------------


async def test_the_running_bot_takes_backups_on_schedule_keeps_the_newest_and_survives_a_failure(
    sim: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.core.backup")
    database = tmp_path / "e2e.db"
    folder = tmp_path / "e2e-backups"
    h = Harness(
        sim,  # type: ignore[arg-type]
        database,
        storage={"path": str(database), "backup_every": "1s", "backup_keep": 2},
    )
    await h.start()
    try:
        schedule = h.runtime.backups
        assert schedule is not None and schedule.every == timedelta(seconds=1)
        await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
        await h.sim.wait_for(lambda: schedule.taken >= 3, timeout=15, message="no 3 backups")
        # served meanwhile
        await h.say(h.liaison, h.ops, "/status")
        assert "#1 Fuite de chlore" in h.last_text(h.ops)
        assert len(backup.backups_in(folder, database)) == 2
        # the folder made unusable: one line per failed backup, and the bot goes on
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        folder.write_text("in the way")
        failed = schedule.failed
        await h.sim.wait_for(lambda: schedule.failed >= failed + 1, timeout=10, message="no fail")
        lines = [r.getMessage() for r in caplog.records if "backup_failed" in r.getMessage()]
        assert lines and all("\n" not in line for line in lines)
        assert lines[0].startswith(f"event=backup_failed folder={folder} error=")
        # the next one, on schedule, once the folder can be written again
        folder.unlink()
        taken = schedule.taken
        await h.sim.wait_for(lambda: schedule.taken > taken, timeout=10, message="no recovery")
        newest = backup.backups_in(folder, database)[-1][1]
        assert _titles(newest) == ["Fuite de chlore, gare de triage de Tournai"]
    finally:
        await h.stop()


async def test_the_first_scheduled_backup_follows_the_newest_one_in_the_folder(
    tmp_path: Path,
) -> None:
    database = tmp_path / "passerelle.db"
    await _database(database)
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    folder = tmp_path / "b"
    every = timedelta(hours=6)
    schedule = backup.Schedule(database, folder, every, 3, clock=lambda: now)
    assert schedule.first_delay() == 60  # none yet: one minute after the start
    backup.take(database, folder, now=now - timedelta(hours=2))
    assert schedule.first_delay() == 4 * 3600  # six hours after the newest
    backup.take(database, folder, now=now - timedelta(hours=7))
    assert schedule.first_delay() == 4 * 3600
    (folder / "passerelle-20261130T120000Z.db").unlink(missing_ok=True)
    for _, path in backup.backups_in(folder, database):
        path.unlink()
    backup.take(database, folder, now=now - timedelta(hours=9))
    assert schedule.first_delay() == 60  # overdue: soon, not at once


# --- end to end: a backup taken mid-stream, restored, served ------------------------------------


@dataclass
class Stream:
    """Replies to #1's card sent while a copy runs beside the bot, and what they became."""

    notes: dict[int, int] = field(default_factory=dict)  # update id -> note number
    claimed_at_start: int = 0
    out: str = ""


async def _copy_mid_stream(h: Harness, command: list[str], env: dict[str, str]) -> Stream:
    """A stream of replies to #1's card, one timeline entry each (no answer: the group's pace
    of 20 messages a minute does not slow it); once a few are stored, `command` (a copy of
    the database) runs as a process of its own, the stream going on until it ended and a
    little after."""
    card = h.card(h.ops)
    stream = Stream()
    copying: asyncio.subprocess.Process | None = None

    async def send() -> None:
        n = 0
        while copying is None or copying.returncode is None or n < 20:
            await h.sim.send_text(h.responder, h.ops, f"flux {n}", reply_to=card)
            stream.notes[h.sim.last_update_id] = n
            n += 1
            await asyncio.sleep(0.01)
        for m in range(n, n + 10):  # and a few after the copy ended
            await h.sim.send_text(h.responder, h.ops, f"flux {m}", reply_to=card)
            stream.notes[h.sim.last_update_id] = m

    async def claimed() -> int:
        async with h.runtime.db.read() as tx:
            found = await tx.all("SELECT update_id FROM processed_updates")
        return len({row[0] for row in found} & set(stream.notes))

    sending = asyncio.create_task(send())
    await h.sim.wait_for(
        lambda: len(stream.notes) >= 10, timeout=10, message="the stream did not start"
    )
    for _ in range(1000):
        if await claimed() >= 5:
            break
        await asyncio.sleep(0.01)
    stream.claimed_at_start = await claimed()
    copying = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await copying.communicate()
    assert copying.returncode == 0, err.decode()
    await sending
    await h.settle()
    stream.out = out.decode()
    return stream


def _holds_a_prefix(stream: Stream, texts: list[object], claimed: list[object]) -> None:
    """The copy holds a prefix of the stream, each note with its update's claim and no other:
    one snapshot, each unit of work whole or absent; taken mid-stream."""
    stored = {int(str(text).rsplit(" ", 1)[1]) for text in texts}
    claims = {int(str(update_id)) for update_id in claimed}
    assert stored == {n for update_id, n in stream.notes.items() if update_id in claims}
    assert stored == set(range(len(stored)))
    assert stream.claimed_at_start <= len(stored) < len(stream.notes)


async def test_a_backup_taken_mid_stream_is_restored_and_the_bot_serves_its_incidents(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    database = h.db_path
    config = _config(tmp_path, database)
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot", "backup", str(tmp_path / "backups")]
    stream = await _copy_mid_stream(h, [*command, "--config", str(config)], env)
    taken = Path(stream.out.split(": backup of ")[0])
    assert taken.parent == tmp_path / "backups"
    _holds_a_prefix(
        stream,
        [row[0] for row in _rows(taken, "SELECT text FROM timeline WHERE text LIKE 'flux %'")],
        [row[0] for row in _rows(taken, "SELECT update_id FROM processed_updates")],
    )

    # after the backup: another incident, which the restore takes away
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")
    restore = [sys.executable, "-m", "bot", "restore", str(taken), "--config", str(config)]
    code, out_text, err_text = await _run(restore, env)
    assert code == 3, err_text
    assert err_text.count("\n") == 1
    assert "in use by a running bot or command" in err_text
    assert out_text == ""

    await h.stop()
    code, out_text, err_text = await _run(restore, env)
    assert code == 0, err_text
    assert "1 incident (1 open)" in out_text
    await h.start()

    await h.say(h.liaison, h.ops, "/status")
    status = h.last_text(h.ops)
    assert "#1 Fuite de chlore" in status
    dm = h.sim.private_chat(h.liaison)
    await h.say(h.liaison, dm, "/status")
    assert "#1 Fuite de chlore" in h.last_text(dm)
    assert "Roubaix" not in h.last_text(dm)
    # it serves #1 on: a reply lands in its timeline, on the card
    await h.say(h.responder, h.ops, "après la restauration", reply_to=h.card(h.ops))
    assert "après la restauration" in (h.card(h.ops).text or "")
    async with h.runtime.db.read() as tx:
        rows = await tx.all("SELECT id FROM incidents")
    assert [row["id"] for row in rows] == [1]
    # the database it replaced is kept, with the second incident
    assert _titles(_aside(tmp_path, "e2e.db")) == [
        "Fuite de chlore, gare de triage de Tournai",
        "Feu d'entrepôt à Roubaix",
    ]


async def _run(command: list[str], env: dict[str, str]) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


def _aside(folder: Path, name: str) -> Path:
    (found,) = folder.glob(f"{name}.before-restore-*[0-9]Z")
    return found


# --- PostgreSQL: the server's own tools ------------------------------------------------------


def _pg_tools() -> tuple[str, str]:
    dump, restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if dump is None or restore is None:
        if os.environ.get("CI"):
            pytest.fail("pg_dump or pg_restore missing (CI is set: this test must not be skipped)")
        pytest.skip("pg_dump or pg_restore not installed (PostgreSQL's client tools)")
    return dump, restore


@pytest.mark.postgres_only
async def test_a_pg_dump_taken_mid_stream_restored_into_a_new_database_serves_its_incidents(
    sim: TelegramSimulator, tmp_path: Path
) -> None:
    """README, "Backups": pg_dump while the bot runs, pg_restore into a new database, [storage]
    url pointed at it."""
    assert backends.current is not None
    dump, restore = _pg_tools()
    env = dict(os.environ)
    h = Harness(sim, tmp_path / "e2e.db")  # on backends.current (tests.conftest.settings_data)
    target = f"{backends.PREFIX}restored_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(backends.SERVER)
    await h.start()
    try:
        await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
        file = tmp_path / "passerelle.dump"
        command = [dump, "--format=custom", f"--file={file}", f"--dbname={backends.current}"]
        stream = await _copy_mid_stream(h, command, env)
        await h.say(h.commander_fr, h.ops_fr, "/incident Feu d'entrepôt à Roubaix")
        await h.stop()

        await admin.execute(f'CREATE DATABASE "{target}" TEMPLATE template0')
        url = backends.url_of(target)
        code, _, err = await _run(
            [restore, "--no-owner", "--exit-on-error", f"--dbname={url}", str(file)], env
        )
        assert code == 0, err
        conn = await asyncpg.connect(url)
        try:
            texts = await conn.fetch("SELECT text FROM timeline WHERE text LIKE 'flux %'")
            claims = await conn.fetch("SELECT update_id FROM processed_updates")
        finally:
            await conn.close()
        _holds_a_prefix(stream, [row[0] for row in texts], [row[0] for row in claims])

        h.overrides["storage"] = {"path": str(tmp_path / "e2e.db"), "url": url}
        await h.start()
        assert h.runtime.db.dialect == "postgresql"
        await h.say(h.liaison, h.ops, "/status")
        assert "#1 Fuite de chlore" in h.last_text(h.ops)
        dm = h.sim.private_chat(h.liaison)
        await h.say(h.liaison, dm, "/status")
        assert "#1 Fuite de chlore" in h.last_text(dm) and "Roubaix" not in h.last_text(dm)
        await h.say(h.responder, h.ops, "après la restauration", reply_to=h.card(h.ops))
        assert "après la restauration" in (h.card(h.ops).text or "")
        # the identity sequences came back with the rows: the next incident is #2
        await h.say(h.commander, h.ops_en, "/incident Chemical spill, Mouscron")
        async with h.runtime.db.read() as tx:
            rows = await tx.all("SELECT id, title FROM incidents ORDER BY id")
        assert [(row["id"], row["title"]) for row in rows] == [
            (1, "Fuite de chlore, gare de triage de Tournai"),
            (2, "Chemical spill, Mouscron"),
        ]
    finally:
        await h.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        await admin.close()


def test_on_postgresql_backup_restore_and_the_schedule_point_to_the_servers_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://127.0.0.1:5432/passerelle"
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    for command in (["backup"], ["restore", str(tmp_path / "x.db")]):
        assert cli.main([*command, "--config", str(config)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and "pg_dump" in err
    assert not list(tmp_path.glob("*.lock"))
    config.write_text(f'[storage]\nurl = "{url}"\nbackup_every = "6h"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={}, require_token=False)
    (line,) = caught.value.problems
    assert line.startswith(f"{config}:3: storage.backup_every: ") and "pg_dump" in line
