"""End to end: what the field sends joins the timeline and is kept as evidence. The real PTB
Application against the stand-in; downloads go through getFile and the stand-in's file
address (base_file_url), as against Telegram."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.models import KeepStatus, MediaKind, TimelineKind
from bot.evidence import service as evidence
from bot.incidents import service as incidents
from bot.simulator import TelegramSimulator
from tests.harness import Harness

PDF = b"%PDF-1.7\n% ERICard 1017 chlorine\n"


async def _kept(h: Harness) -> None:
    """The keeper has done all it will do: every file kept or given up (retries included)."""
    keeper = h.runtime.keeper
    assert keeper is not None
    async with asyncio.timeout(20):
        while True:
            await keeper.drained(20)
            async with h.runtime.db.read() as tx:
                waiting = await tx.one(
                    "SELECT count(*) AS n FROM media_downloads WHERE status = 'pending'"
                )
            if waiting is None or waiting["n"] == 0:
                return
            await asyncio.sleep(0.05)


async def _declared(h: Harness, title: str = "Citerne couchée, Tournai") -> int:
    await h.say(h.commander, h.ops, f"/incident {title}")
    incident = await incidents.latest_open(h.runtime.db, h.ops.id)
    assert incident is not None
    return incident.ref


@pytest.fixture
async def fast(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    """The harness with retries that do not wait."""
    running = Harness(sim, tmp_path / "e2e.db", evidence={"first_retry": 0.05, "attempts": 3})
    await running.start()
    yield running
    await running.stop()


async def test_a_document_in_reply_to_the_card_joins_the_timeline_and_is_kept(
    fast: Harness,
) -> None:
    h = fast
    ref = await _declared(h)
    card = h.card(h.ops)
    await h.sim.send_document(
        h.responder, h.ops, PDF, "ERICard-1017.pdf", caption="Fiche ERI", reply_to=card
    )
    await h.settle()
    await _kept(h)
    await h.settle()
    entries = await incidents.timeline(h.runtime.db, ref, last=10)
    entry = entries[-1]
    assert entry.kind is TimelineKind.MEDIA and entry.text == "Fiche ERI"
    [item] = entry.media
    assert item.kind is MediaKind.DOCUMENT and item.file_name == "ERICard-1017.pdf"
    assert item.file_id and item.file_unique_id
    [kept] = await evidence.files(h.runtime.db, ref)
    assert kept.status is KeepStatus.KEPT
    assert kept.sha256 == hashlib.sha256(PDF).hexdigest() and kept.size == len(PDF)
    path = evidence.kept_path(h.settings, kept)
    assert path is not None and path.read_bytes() == PDF
    # the card counts it and shows it as its latest entry; no answer in the chat
    card_text = h.card(h.ops).text or ""
    assert "📄 1" in card_text and "📄 document ERICard-1017.pdf: Fiche ERI" in card_text
    assert not [t for t in h.bot_texts(h.ops) if "Fiche ERI" in t and "🚨" not in t]
    assert len(h.sim.calls_to("getFile")) == 1


async def test_a_document_with_a_log_caption_joins_the_named_incident(fast: Harness) -> None:
    h = fast
    first = await _declared(h, "Feu de silo")
    second = await _declared(h, "Fuite de gaz")
    await h.sim.send_document(
        h.responder, h.ops, PDF, "plan.pdf", caption=f"/log #{first} Plan du site"
    )
    await h.settle()
    entry = (await incidents.timeline(h.runtime.db, first, last=1))[0]
    assert entry.kind is TimelineKind.MEDIA and entry.text == "Plan du site"
    assert (await incidents.timeline(h.runtime.db, second, last=1))[0].kind is not (
        TimelineKind.MEDIA
    )
    assert f"#{first}" in h.last_text(h.ops)  # 📝 Added to the timeline of #…


async def test_a_log_caption_without_an_open_incident_is_refused_clearly(
    harness: Harness,
) -> None:
    h = harness
    await h.sim.send_document(h.responder, h.ops, PDF, "plan.pdf", caption="/log Plan")
    await h.settle()
    answer = h.last_text(h.ops)
    assert "⛔" in answer and "/incident" in answer


async def test_a_document_that_is_neither_a_reply_nor_logged_is_chatter(harness: Harness) -> None:
    h = harness
    ref = await _declared(h)
    before = h.bot_texts(h.ops)
    await h.sim.send_document(h.responder, h.ops, PDF, "menu.pdf", caption="Menu du midi")
    await h.settle()
    assert [e.kind for e in await incidents.timeline(h.runtime.db, ref, last=10)] == [
        TimelineKind.DECLARED
    ]
    assert h.bot_texts(h.ops) == before
    assert not h.sim.calls_to("getFile")


async def test_a_redelivered_media_update_changes_nothing_and_downloads_nothing(
    fast: Harness,
) -> None:
    h = fast
    ref = await _declared(h)
    queue = h.sim.world.updates
    kept: list[dict[str, object]] = []
    original = queue.put

    def put(payload: dict[str, object]) -> int:
        update_id = original(payload)
        kept.append(queue.pending[-1].payload)
        return update_id

    queue.put = put  # type: ignore[method-assign]
    await h.sim.send_document(h.responder, h.ops, PDF, "a.pdf", reply_to=h.card(h.ops))
    await h.settle()
    await _kept(h)
    queue.put = original  # type: ignore[method-assign]
    entries = await incidents.timeline(h.runtime.db, ref, last=10)
    h.sim.post_update(kept[-1])  # Telegram delivers it again
    await h.settle()
    await _kept(h)
    assert await incidents.timeline(h.runtime.db, ref, last=10) == entries
    assert len(h.sim.calls_to("getFile")) == 1
    assert len(await evidence.files(h.runtime.db, ref)) == 1


async def test_a_download_that_fails_is_retried_then_given_up_with_the_reason(
    fast: Harness,
) -> None:
    h = fast
    ref = await _declared(h)
    card = h.card(h.ops)
    # a 5xx once: retried, kept
    h.sim.faults.fail("getFile", 502, times=1)
    await h.sim.send_document(h.responder, h.ops, PDF, "one.pdf", reply_to=card)
    await h.settle()
    await _kept(h)
    # always a 500: given up after [evidence] attempts (3 here), the reason recorded
    h.sim.faults.fail("getFile", 500, times=None)
    await h.sim.send_document(h.responder, h.ops, PDF + b"2", "two.pdf", reply_to=card)
    await h.settle()
    await _kept(h)
    h.sim.faults.clear()
    first, second = await evidence.files(h.runtime.db, ref)
    assert first.status is KeepStatus.KEPT and first.attempts == 2
    assert second.status is KeepStatus.FAILED and second.reason is not None
    assert "3 attempts" in second.reason and "FetchFailed" in second.reason
    # nothing else was held up: the card shows both
    assert "📄 2" in (h.card(h.ops).text or "")


async def test_a_file_gone_from_telegram_is_recorded_as_not_kept(fast: Harness) -> None:
    h = fast
    ref = await _declared(h)
    message = await h.sim.send_document(h.responder, h.ops, PDF, "gone.pdf", reply_to=h.card(h.ops))
    assert message.file is not None
    h.sim.expire_file(message.file)  # Telegram no longer has it
    await h.settle()
    await _kept(h)
    [gone] = await evidence.files(h.runtime.db, ref)
    assert gone.status is KeepStatus.FAILED and gone.reason and "FileGone" in gone.reason
    assert gone.path is None and gone.sha256 is None


async def test_when_the_folder_is_full_the_liaisons_are_told_once(
    sim: TelegramSimulator, tmp_path: Path
) -> None:
    h = Harness(sim, tmp_path / "cap.db", evidence={"max_total_mb": 0.0001})  # 104 bytes
    await h.start()
    try:
        ref = await _declared(h)
        card = h.card(h.ops)
        for number in range(3):
            await h.sim.send_document(
                h.responder, h.ops, bytes(80) + bytes([number]), f"{number}.pdf", reply_to=card
            )
        await h.settle()
        await _kept(h)
        await h.settle()
        statuses = [f.status for f in await evidence.files(h.runtime.db, ref)]
        assert statuses == [KeepStatus.KEPT, KeepStatus.CAP, KeepStatus.CAP]
        notices = [t for t in h.bot_texts(h.liaison_fr) if "max_total_mb" in t]
        assert len(notices) == 1 and f"#{ref}" in notices[0]
        assert "plein" in notices[0]  # in the liaison chat's language (French)
    finally:
        await h.stop()
