"""A download of the field's evidence interrupted by a kill: the bot process dies while the
keeper downloads a file (after Telegram handed over the bytes, before they are on disk), or
after the file is on disk but before it is recorded. Started again, the file is kept once and
recorded once: in the first case downloaded again (the first download never reached the
disk), in the second not downloaded again at all. The item itself is on the timeline once,
whether or not Telegram delivers its update again."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from bot.simulator import TelegramSimulator
from tests import backends
from tests.reliability.crash_harness import TOKEN, Bot, Scenario, _config, _settled

# the process dies once the bytes are downloaded, before they are written
DIE_BEFORE_WRITING = """
import os
from bot.evidence import keeper

def _die(*args, **kwargs):
    os._exit(9)

keeper._write = _die
"""

# the process dies once the file is on disk, before it is recorded
DIE_BEFORE_RECORDING = """
import os
from bot.evidence import keeper

async def _die(*args, **kwargs):
    os._exit(9)

keeper.Keeper._kept = _die
"""

EVIDENCE = b"%PDF-1.7\n" + bytes(range(256)) * 64


def _rows(db_path: Path) -> list[Any]:
    with closing(backends.reader(db_path)) as conn:
        return conn.execute(
            "SELECT m.id, m.entry_id, d.status, d.sha256, d.size, d.path"
            " FROM media_items m LEFT JOIN media_downloads d ON d.item_id = m.id"
        ).fetchall()


async def _until_kept(db_path: Path, timeout: float) -> list[Any]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(db_path)
        if rows and all(r["status"] == "kept" for r in rows):
            return rows
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not kept: {[dict(r) for r in _rows(db_path)]}")


@pytest.mark.parametrize(
    ("crash", "downloads"), [(DIE_BEFORE_WRITING, 2), (DIE_BEFORE_RECORDING, 1)]
)
async def test_a_download_killed_midway_is_kept_once(
    tmp_path: Path, crash: str, downloads: int
) -> None:
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_crash_bot", seed=5)
    await sim.start()
    db_path = tmp_path / "evidence.db"
    config = tmp_path / "evidence.toml"
    config.write_text(_config(sim, db_path), encoding="utf-8")
    bot = Bot(config, tmp_path / "bot.log")
    people = Scenario(sim, random.Random(5))
    ops, commander, responder = people.ops[0], people.commanders[0], people.responders[0]
    try:
        await bot.start(prelude=crash)
        await sim.send_text(commander, ops, "/incident Citerne couchée, Halluin")
        await _settled(db_path, sim, timeout=30)
        card = sim.pinned(ops)
        assert card is not None
        await sim.send_document(
            responder, ops, EVIDENCE, "ERICard.pdf", caption="Fiche ERI", reply_to=card
        )
        assert await bot.exited(timeout=30) == 9, (tmp_path / "bot.log").read_text()
        assert len(sim.calls_to("getFile")) == 1
        [before] = _rows(db_path)
        assert before["status"] == "pending"

        await bot.start()
        [row] = await _until_kept(db_path, timeout=30)
        await _settled(db_path, sim, timeout=30)
        assert row["id"] == before["id"] and row["entry_id"] == before["entry_id"]
        assert row["sha256"] == hashlib.sha256(EVIDENCE).hexdigest()
        assert row["size"] == len(EVIDENCE)
        assert len(sim.calls_to("getFile")) == downloads
        assert sim.downloads() == downloads  # the bytes handed over (a kill lost the first)
        folder = db_path.parent / "evidence-media"
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert [p.relative_to(folder).as_posix() for p in files] == [row["path"]]
        assert files[0].read_bytes() == EVIDENCE
        with closing(backends.reader(db_path)) as conn:
            media_entries = conn.execute(
                "SELECT count(*) FROM timeline WHERE kind = 'media'"
            ).fetchone()[0]
        assert media_entries == 1
    finally:
        await bot.stop()
        await sim.stop()
