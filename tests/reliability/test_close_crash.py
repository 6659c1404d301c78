"""Closing an incident is one unit of work: the bot process dies in the middle of a /close (at
the moment it asks for the evaluations, after it closed the incident and released its unit in
the same transaction) and is started again. Nothing of the /close was stored, Telegram was not
told the update arrived, so it delivers it again and the restarted bot closes the incident
whole: the unit released, the request ended, and the evaluation questions asked of the
commander and of the agency whose unit crossed the border, each delivered once."""

from __future__ import annotations

import asyncio
import random
import sys
from contextlib import closing
from pathlib import Path

from bot.simulator import TelegramSimulator
from tests import backends
from tests.reliability.crash_harness import (
    TOKEN,
    Bot,
    Scenario,
    _config,
    _roster,
    _settled,
)

# the crash point: the process dies where /close asks for the evaluations
DIE_WHEN_ASKING = """
import os
from bot.reports import evaluations

async def _die(*args, **kwargs):
    os._exit(9)

evaluations.ask = _die
"""


def _state(db_path: Path, title: str) -> dict[str, object]:
    with closing(backends.reader(db_path)) as conn:
        incident = conn.execute("SELECT * FROM incidents WHERE title = ?", (title,)).fetchone()
        ref = incident["id"]
        return {
            "status": incident["status"],
            "committed_units": conn.execute(
                "SELECT count(*) FROM units WHERE incident_id = ?", (ref,)
            ).fetchone()[0],
            "open_requests": conn.execute(
                "SELECT count(*) FROM requests WHERE incident_id = ? AND status = 'open'", (ref,)
            ).fetchone()[0],
            "evaluations": sorted(
                (r["party"], r["chat_id"])
                for r in conn.execute(
                    "SELECT party, chat_id FROM evaluations WHERE incident_id = ?", (ref,)
                )
            ),
        }


async def test_a_crash_inside_close_loses_nothing(tmp_path: Path) -> None:
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_crash_bot", seed=3)
    await sim.start()
    db_path = tmp_path / "close.db"
    config = tmp_path / "close.toml"
    config.write_text(_config(sim, db_path), encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(_roster(), encoding="utf-8")
    bot = Bot(config, tmp_path / "bot.log")
    people = Scenario(sim, random.Random(3))
    ops, commander = people.ops[0], people.commanders[0]  # a French operations group
    try:
        imported = await _run(
            sys.executable, "-m", "bot", "--config", str(config), "roster", "import", str(roster)
        )
        assert imported == 0, "the roster import failed"
        await bot.start()
        title = "Feu de hangar, Halluin"
        await sim.send_text(commander, ops, f"/incident {title}")
        await _settled(db_path, sim, timeout=30)
        card = sim.pinned(ops)
        assert card is not None
        await sim.send_location(commander, ops, 50.6, 3.3, reply_to=card)
        await sim.send_text(commander, ops, "/request 1 ambulance")
        await _settled(db_path, sim, timeout=30)
        # a Belgian agency commits its unit to the French incident: it crosses the border
        offers = [
            (i, m, d)
            for i, chat in enumerate(people.agencies)
            if i % 2  # the odd agencies are Belgian
            for m in sim.bot_messages(chat)
            for d in m.callback_data
            if d.startswith("r1:") and d.endswith(":c")
        ]
        assert offers, sim.dump()
        i, message, commit = offers[0]
        await sim.press(people.duty[i], people.agencies[i], message, commit)
        await _settled(db_path, sim, timeout=30)
        before = _state(db_path, title)
        assert before["committed_units"] == 1 and before["status"] != "closed"

        # the bot dies in the middle of /close
        await bot.stop()
        await bot.start(prelude=DIE_WHEN_ASKING)
        await sim.send_text(commander, ops, "/close")
        assert await bot.exited(timeout=30) == 9
        assert sim.world.updates.pending, "the /close was confirmed although it was not stored"
        assert _state(db_path, title) == before  # nothing of it was stored

        # started again: Telegram delivers the /close again, and it is done whole
        await bot.start()
        await _settled(db_path, sim, timeout=60)
        after = _state(db_path, title)
        assert after["status"] == "closed"
        assert after["committed_units"] == 0 and after["open_requests"] == 0
        assert after["evaluations"] == [("", ops.id), (f"Agence {i}", people.agencies[i].id)]
        for chat in (ops, people.agencies[i]):
            asked = [
                m
                for m in sim.bot_messages(chat)
                if any(d.startswith("e1:") for d in m.callback_data)
            ]
            assert len(asked) == 1, sim.dump()
    finally:
        await bot.stop()
        await sim.stop()


async def _run(*command: str) -> int:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait()
