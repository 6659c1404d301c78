"""Telegram misbehaving, one fault at a time: flood waits, server errors, slow answers and
time-outs, a bot that was blocked or removed, harmless and harmful 400s, and a group upgraded
to a supergroup. After each, the bot keeps going and nothing it stored is lost."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import Author
from bot.incidents import service as incidents
from bot.simulator import SimChat, TelegramSimulator
from tests.conftest import settings_data
from tests.harness import Harness
from tests.units import once

BASIC_GROUP = -4001  # a basic group, registered, that an admin later upgrades


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    db_path = tmp_path / "faults.db"
    chats: list[dict[str, Any]] = [
        *settings_data(db_path)["chats"],
        {
            "id": BASIC_GROUP,
            "name": "Comines ops",
            "kind": "operations",
            "country": "BE",
            "languages": ["fr"],
        },
    ]
    running = Harness(sim, db_path, chats=chats)
    everyone = [running.commander, running.liaison, running.responder, running.admin]
    running.group = sim.add_chat(  # type: ignore[attr-defined]
        BASIC_GROUP, "group", title="Comines ops", members=everyone, bot_status="administrator"
    )
    await running.start()
    yield running
    await running.stop()


async def _declare(h: Harness, chat: SimChat | None = None, title: str = "Feu de silo") -> int:
    chat = chat or h.ops
    await h.say(h.commander, chat, f"/incident {title}")
    incident = await incidents.latest_open(h.runtime.db, chat.id)
    assert incident is not None
    return incident.ref


def _cards(h: Harness, chat: SimChat | int, title: str) -> list[Any]:
    return [m for m in h.sim.bot_messages(chat) if title in (m.text or "")]


async def _still_working(h: Harness, chat: SimChat | None = None) -> None:
    """The bot takes the next update as if nothing happened."""
    chat = chat or h.ops
    card = h.card(chat)
    await h.say(h.responder, chat, "Toujours là ?", reply_to=card)
    assert "Toujours là ?" in (h.card(chat).text or "")


async def test_a_429_on_a_card_edit_waits_retry_after_and_the_card_catches_up(h: Harness) -> None:
    await _declare(h)
    h.sim.faults.fail(method="editMessageText", status=429, retry_after=1, times=1)
    await h.say(h.responder, h.ops, "Fumée noire", reply_to=h.card(h.ops))
    assert h.sim.count_status(429, "editMessageText") == 1
    assert "Fumée noire" in (h.card(h.ops).text or "")
    await _still_working(h)


async def test_500_and_502_on_card_edits_are_retried_soon(h: Harness) -> None:
    await _declare(h)
    h.sim.faults.fail(method="editMessageText", status=500, times=1)
    h.sim.faults.fail(method="editMessageText", status=502, times=1)
    started = time.monotonic()
    await h.say(h.responder, h.ops, "Deux lances en action", reply_to=h.card(h.ops))
    assert h.sim.count_status(500) == 1 and h.sim.count_status(502) == 1
    assert "Deux lances en action" in (h.card(h.ops).text or "")
    # a server error is retried within seconds, not left stale for half a minute
    assert time.monotonic() - started < 10
    await _still_working(h)


async def test_a_500_on_a_direct_answer_is_reported_and_the_effect_is_kept(h: Harness) -> None:
    await _declare(h)
    h.sim.faults.fail(method="sendMessage", status=500, times=1, chat_id=h.ops.id)
    await h.say(h.responder, h.ops, "/log Équipe cynophile sur place")
    entries = await incidents.timeline(h.runtime.db, 1, last=10)
    assert [e.text for e in entries].count("Équipe cynophile sur place") == 1
    await _still_working(h)


async def test_slow_answers_still_reach_the_card(h: Harness) -> None:
    await _declare(h)
    h.sim.faults.delay("editMessageText", 1.5, times=2)
    await h.say(h.responder, h.ops, "Réponse lente", reply_to=h.card(h.ops))
    assert "Réponse lente" in (h.card(h.ops).text or "")
    await _still_working(h)


async def test_a_timed_out_send_is_retried_and_repeated_at_most_once(h: Harness) -> None:
    # Telegram takes longer than the bot waits (PTB's 5 s read time-out): the bot sees a
    # time-out, but the message did go out. The retry may repeat it once, never more.
    h.sim.faults.delay("sendMessage", 6.0, times=1, chat_id=h.ops_fr.id)
    await h.say(h.liaison, h.liaison_fr, "/alert Coupure d'eau à Halluin")
    await h.sim.wait_for(
        lambda: any("Halluin" in t for t in h.bot_texts(h.ops_fr)), timeout=15, interval=0.1
    )
    await h.settle()
    received = [t for t in h.bot_texts(h.ops_fr) if "Halluin" in t]
    assert 1 <= len(received) <= 2
    for chat in (h.ops, h.ops_en):
        assert len([t for t in h.bot_texts(chat) if "Halluin" in t]) == 1
    await _declare(h)
    await _still_working(h)


async def test_a_403_on_the_card_marks_the_chat_unreachable_and_tells_the_liaisons(
    h: Harness,
) -> None:
    await _declare(h)
    h.sim.faults.fail(
        method="editMessageText",
        status=403,
        times=1,
        chat_id=h.ops.id,
        description="Forbidden: bot was kicked from the supergroup chat",
    )
    await h.say(h.responder, h.ops, "Le bot a été retiré ?", reply_to=h.card(h.ops))
    async with h.runtime.db.read() as tx:
        row = await tx.one("SELECT unreachable_at FROM chats WHERE id = ?", (h.ops.id,))
    assert row is not None and row["unreachable_at"] is not None
    notices = [t for t in h.bot_texts(h.liaison_fr) if t.startswith("📵")]
    assert len(notices) == 1 and "Tournai ops" in notices[0]
    assert "Le bot a été retiré ?" not in (h.card(h.ops).text or "")
    # an admin adds the bot again: the chat is reachable and its card catches up
    await h.sim.add_member(h.ops, h.sim.bot, by=h.admin, status="administrator")
    await h.settle()
    async with h.runtime.db.read() as tx:
        row = await tx.one("SELECT unreachable_at FROM chats WHERE id = ?", (h.ops.id,))
    assert row is not None and row["unreachable_at"] is None
    assert "Le bot a été retiré ?" in (h.card(h.ops).text or "")
    # another chat is served as before
    await _declare(h, h.ops_fr, "Accident A25")
    await _still_working(h, h.ops_fr)


async def test_message_is_not_modified_is_harmless(h: Harness) -> None:
    await _declare(h)
    card = h.card(h.ops)
    h.sim.faults.fail(
        method="editMessageText",
        status=400,
        times=1,
        description="Bad Request: message is not modified: specified new message content and "
        "reply markup are exactly the same as a current content and reply markup of the message",
    )
    await h.say(h.responder, h.ops, "Rien de neuf", reply_to=card)
    assert h.sim.count_status(400, "editMessageText") == 1
    # no second card, nothing reported to the users
    assert len(_cards(h, h.ops, "#1 Feu de silo")) == 1
    assert not any(t.startswith("⚠️") for t in h.bot_texts(h.ops))
    await _still_working(h)
    assert h.card(h.ops).message_id == card.message_id


async def test_message_to_edit_not_found_posts_the_card_again_and_pins_it(h: Harness) -> None:
    await _declare(h)
    old = h.card(h.ops)
    h.sim.faults.fail(
        method="editMessageText",
        status=400,
        times=1,
        chat_id=h.ops.id,
        description="Bad Request: message to edit not found",
    )
    await h.say(h.responder, h.ops, "Carte supprimée ?", reply_to=old)
    new = h.card(h.ops)
    assert new.message_id != old.message_id
    assert "Carte supprimée ?" in (new.text or "")
    await _still_working(h)


async def _migrated_state(h: Harness, old: int, new: int) -> None:
    async with h.runtime.db.read() as tx:
        chat_ids = {r["id"] for r in await tx.all("SELECT id FROM chats")}
        incident_chats = {r["chat_id"] for r in await tx.all("SELECT chat_id FROM incidents")}
        card_chats = {r["chat_id"] for r in await tx.all("SELECT chat_id FROM cards")}
        left = await tx.all(
            "SELECT 1 FROM outbox WHERE chat_id = ? AND status = 'pending'"
            " UNION ALL SELECT 1 FROM alert_targets WHERE chat_id = ?",
            (old, old),
        )
    assert old not in chat_ids and new in chat_ids
    assert old not in incident_chats and old not in card_chats
    assert left == []


async def test_a_group_upgraded_to_a_supergroup_is_followed_everywhere(h: Harness) -> None:
    group: SimChat = h.group  # type: ignore[attr-defined]
    ref = await _declare(h, group, "Inondation de la Lys")
    await h.say(h.responder, group, "Eau à 40 cm", reply_to=h.card(group))
    await h.say(h.liaison, h.liaison_fr, "/alert Crue de la Lys à Comines")
    new_id = h.sim.migrate_to_supergroup(group)
    await h.settle()
    await _migrated_state(h, group.id, new_id)
    # the card lives on in the supergroup, pinned, with everything said before
    card = h.card(new_id)
    assert "#1 Inondation de la Lys" in (card.text or "") and "Eau à 40 cm" in (card.text or "")
    # people go on in the supergroup: replies, /log, alerts and their acknowledgements
    await h.say(h.responder, new_id, "Eau à 60 cm", reply_to=card)
    await h.say(h.commander, new_id, "/log Évacuation rue de la Gare")
    texts = [e.text for e in await incidents.timeline(h.runtime.db, ref, last=20)]
    assert "Eau à 60 cm" in texts and "Évacuation rue de la Gare" in texts
    await h.say(h.liaison, h.liaison_fr, "/alert Digue renforcée")
    assert len([t for t in h.bot_texts(new_id) if "Digue renforcée" in t]) == 1
    assert "Évacuation rue de la Gare" in (h.card(new_id).text or "")
    # the configuration still names the old id: a restart keeps following the new one
    await h.stop()
    await h.start()
    await _migrated_state(h, group.id, new_id)


async def test_a_migration_learnt_from_a_card_edit_loses_nothing(h: Harness) -> None:
    group: SimChat = h.group  # type: ignore[attr-defined]
    ref = await _declare(h, group, "Glissement de terrain")
    new_id = h.sim.migrate_to_supergroup(group)
    # the service messages never reach the bot: it learns from Telegram's 400
    h.sim.world.updates.clear()
    await once(
        h.runtime.db,
        incidents.add_note,
        ref=ref,
        text="Route coupée",
        author=Author(h.commander.id, "Marc"),
        chat_id=group.id,
        message_id=None,
    )
    await h.runtime.live.catch_up()
    await h.settle()
    await _migrated_state(h, group.id, new_id)
    card = h.card(new_id)
    assert "Route coupée" in (card.text or "")
    await _still_working(h, h.sim.chat(new_id))


async def test_a_migration_learnt_by_the_outbox_delivers_to_the_new_chat(h: Harness) -> None:
    group: SimChat = h.group  # type: ignore[attr-defined]
    new_id = h.sim.migrate_to_supergroup(group)
    h.sim.world.updates.clear()
    await h.say(h.liaison, h.liaison_fr, "/alert Vent violent")
    assert len([t for t in h.bot_texts(new_id) if "Vent violent" in t]) == 1
    await _migrated_state(h, group.id, new_id)
