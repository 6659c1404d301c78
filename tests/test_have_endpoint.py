"""POST /have on the bot's web server: one token per hospital; a wrong token changes nothing
and is logged; a flood of documents is held to the limits while the bot keeps answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.resources import roster_csv
from bot.resources import units as resources
from bot.simulator import TelegramSimulator
from tests.harness import Harness
from tests.test_have import document

ROOT = Path(__file__).resolve().parent.parent
LILLE_TOKEN = "lille-" + "x" * 30
GENT_TOKEN = "gent-" + "y" * 30


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    running = Harness(
        sim,
        tmp_path / "have.db",
        agencies=True,
        have={
            "tokens": {"CHU de Lille": LILLE_TOKEN, "UZ Gent": GENT_TOKEN},
            "per_hospital_per_minute": 20,
            "total_per_minute": 50,
        },
    )
    await running.start()
    sample = (ROOT / "bot" / "data" / "roster_sample.csv").read_text(encoding="utf-8")
    await roster_csv.import_roster(running.runtime.db, sample)
    yield running
    await running.stop()


async def _post(
    session: aiohttp.ClientSession, h: Harness, body: bytes, token: str | None
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/xml"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with session.post(
        f"http://127.0.0.1:{h.web.port}/have", data=body, headers=headers
    ) as response:
        return response.status, await response.json()


async def test_only_the_hospitals_own_token_changes_its_beds(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    before = await resources.get_unit(h.runtime.db, "FR-CHULILLE-BURN-1")
    assert before is not None and before.free == 2
    async with aiohttp.ClientSession() as session:
        with caplog.at_level(logging.WARNING):
            for token in (None, "wrong-" + "z" * 30, LILLE_TOKEN[:-1]):
                status, _ = await _post(session, h, document(), token)
                assert status == 401
        assert "event=have_refused" in caplog.text and LILLE_TOKEN[:-1] not in caplog.text
        unchanged = await resources.get_unit(h.runtime.db, "FR-CHULILLE-BURN-1")
        assert unchanged is not None and unchanged.free == 2 and unchanged.reported_at is None
        # Gent's token cannot report for Lille
        status, answer = await _post(session, h, document(), GENT_TOKEN)
        assert status == 422 and "cannot report for" in str(answer["message"])
        # a document that is not HAVE: refused, clearly
        status, answer = await _post(session, h, b"<x/>", LILLE_TOKEN)
        assert status == 422 and "not an EDXL-HAVE document" in str(answer["message"])
        # Lille's own token: its burns beds now read 1 free of 2, as of the report's time
        status, answer = await _post(session, h, document(), LILLE_TOKEN)
        assert status == 200, answer
        assert answer["updated"] == {"FR-CHULILLE-BURN-1": {"free": 1, "total": 2}}
    after = await resources.get_unit(h.runtime.db, "FR-CHULILLE-BURN-1")
    assert after is not None and after.free == 1 and after.reported_at is not None


async def test_a_flood_stays_within_the_limits_and_chats_are_answered(h: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        flood = asyncio.gather(
            *(_post(session, h, document(), LILLE_TOKEN) for _ in range(2000)),
            return_exceptions=True,
        )
        # meanwhile a commander asks for the burns beds, and is answered
        await h.say(h.commander, h.ops, "/roster burns_bed")
        assert any("FR-CHULILLE-BURN-1" in t for t in h.bot_texts(h.ops))
        answers = await flood
    statuses = [a[0] for a in answers if isinstance(a, tuple)]
    assert statuses.count(200) == 20  # the hospital's limit a minute
    # the rest refused unread: 429 (a client still sending its body may see the connection
    # closed instead)
    cut = sum(1 for a in answers if isinstance(a, aiohttp.ClientError))
    assert statuses.count(429) + cut == 1980
    # the overall limit holds too: Gent gets what is left of the 50 a minute
    async with aiohttp.ClientSession() as session:
        gent = [
            await _post(session, h, document(hospital="UZ Gent"), GENT_TOKEN) for _ in range(25)
        ]
    assert [s for s, _ in gent].count(200) == 20
