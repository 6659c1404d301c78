"""Exactly-once effects: Telegram delivers again what it does not know was received (a crash
before the confirmation). Every kind of update, delivered a second time with its update id,
changes nothing and sends nothing; and Telegram is told an update arrived only once it was
handled (polling and webhook)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import IncidentStatus
from bot.incidents import service as incidents
from bot.render.keyboards import ack_data, statement_data, status_data
from bot.simulator import TelegramSimulator
from tests import backends
from tests.conftest import settings_data
from tests.harness import Harness

MEDIA = -100500
SENDING = {
    "sendmessage",
    "editmessagetext",
    "editmessagereplymarkup",
    "answercallbackquery",
    "pinchatmessage",
    "senddocument",
}


class Recorder:
    """Keeps every update the stand-in queues, to deliver it again later."""

    def __init__(self, sim: TelegramSimulator) -> None:
        self.payloads: dict[int, dict[str, Any]] = {}
        queue = sim.world.updates
        original = queue.put

        def put(payload: dict[str, Any]) -> int:
            update_id = original(payload)
            self.payloads[update_id] = queue.pending[-1].payload
            return update_id

        queue.put = put  # type: ignore[method-assign]

    @property
    def last(self) -> dict[str, Any]:
        return self.payloads[max(self.payloads)]


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    db_path = tmp_path / "once.db"
    chats: list[dict[str, Any]] = [
        *settings_data(db_path)["chats"],
        {"id": MEDIA, "name": "Presse", "kind": "media", "country": "BE", "languages": ["fr"]},
    ]
    running = Harness(sim, db_path, chats=chats)
    running.media = sim.add_chat(MEDIA, "channel", title="Presse", bot_status="administrator")  # type: ignore[attr-defined]
    running.recorder = Recorder(sim)  # type: ignore[attr-defined]
    await running.start()
    yield running
    await running.stop()


SKIPPED = ("processed_updates", "instances", "leases")


def _snapshot(path: Path) -> dict[str, Any]:
    """Everything stored, except the list of handled update ids and what the running instances
    keep up to date by the clock (their heartbeats and leases)."""
    with closing(backends.reader(path)) as conn:
        tables = [t for t in backends.tables(conn) if t not in SKIPPED]
        return {
            t: sorted(repr(tuple(r)) for r in conn.execute(f"SELECT * FROM {t}").fetchall())
            for t in tables
        }


async def _again(h: Harness, payload: dict[str, Any]) -> None:
    """Deliver the same update again, as Telegram does after a lost confirmation."""
    before = _snapshot(h.db_path)
    calls = len(h.sim.calls)
    h.sim.post_update(payload)
    await h.settle()
    assert _snapshot(h.db_path) == before, f"second delivery changed the database: {payload}"
    sent = [c.method for c in h.sim.calls[calls:] if c.method.lower() in SENDING]
    assert sent == [], f"second delivery sent {sent}: {payload}"


async def _once(h: Harness, act: Callable[[], Awaitable[Any]]) -> None:
    await act()
    await h.settle()
    await _again(h, h.recorder.last)  # type: ignore[attr-defined]


async def test_every_kind_of_update_has_its_effect_once(h: Harness) -> None:
    sim = h.sim
    dm_spokesperson = sim.private_chat(h.spokesperson)
    await _once(h, lambda: sim.send_text(h.spokesperson, dm_spokesperson, "/start"))
    await _once(h, lambda: sim.send_text(h.commander, h.ops, "/incident Explosion à Mouscron"))
    card = h.card(h.ops)
    await _once(h, lambda: sim.send_text(h.responder, h.ops, "Trois blessés", reply_to=card))
    await _once(h, lambda: sim.send_location(h.responder, h.ops, 50.74, 3.21, reply_to=card))
    await _once(h, lambda: sim.send_text(h.responder, h.ops, "/log Périmètre 300 m"))
    await _once(h, lambda: sim.send_text(h.commander, h.ops, "/set gravité sévère"))
    await _once(h, lambda: sim.send_text(h.commander, h.ops, "/assign porte-parole @pclaeys"))
    await _once(
        h,
        lambda: sim.press(h.commander, h.ops, h.card(h.ops), status_data(1, IncidentStatus.ACTIVE)),
    )
    # a status button pressed twice in a row is one change
    timeline = await incidents.timeline(h.runtime.db, 1, last=50)
    assert [e.kind.value for e in timeline].count("status") == 1
    await _once(h, lambda: sim.send_text(h.commander, h.ops, "/status"))
    await _once(h, lambda: sim.send_text(h.liaison, h.liaison_fr, "/alert Confinement Mouscron"))
    alert = next(m for m in sim.bot_messages(h.ops_fr) if ack_data(1) in m.callback_data)
    await _once(h, lambda: sim.press(h.responder, h.ops_fr, alert, ack_data(1)))
    await _once(h, lambda: sim.send_text(h.commander, h.ops, "/statement Fuite maîtrisée"))
    draft = next(
        m
        for m in sim.bot_messages(dm_spokesperson)
        if statement_data(1, 1, "ok") in m.callback_data
    )
    await _once(
        h, lambda: sim.press(h.spokesperson, dm_spokesperson, draft, statement_data(1, 1, "ok"))
    )
    assert len(sim.bot_messages(h.media)) == 1  # type: ignore[attr-defined]
    await _once(h, lambda: sim.send_text(h.spokesperson, dm_spokesperson, "/lang fr"))
    await _once(h, lambda: sim.send_text(h.admin, h.ops_en, "/lang en fr"))
    await _once(h, lambda: sim.send_text(h.commander, h.ops, "/close"))
    # a forged press of an unknown button is answered once, and not again
    await _once(h, lambda: sim.press(h.commander, h.ops, h.card(h.ops), "zz:1", forged=True))


async def test_a_second_press_of_a_button_is_one_change(h: Harness) -> None:
    """Two presses (two updates) of the same button: the second changes nothing."""
    await h.say(h.commander, h.ops, "/incident Incendie entrepôt")
    card = h.card(h.ops)
    data = status_data(1, IncidentStatus.ACTIVE)
    first = await h.press(h.commander, h.ops, card, data)
    second = await h.press(h.commander, h.ops, card, data, forged=True)  # the old card's button
    assert h.sim.callback_answers[first].text and h.sim.callback_answers[second].text
    timeline = await incidents.timeline(h.runtime.db, 1, last=50)
    assert [e.kind.value for e in timeline] == ["declared", "status"]


async def test_telegram_is_not_told_before_the_update_is_handled(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update being handled is not confirmed yet: a crash now would not lose it."""
    await h.say(h.commander, h.ops, "/incident Pollution de l'Escaut")
    entered, release = asyncio.Event(), asyncio.Event()
    original = incidents.add_note

    async def slow_add_note(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(incidents, "add_note", slow_add_note)
    message = await h.sim.send_text(h.responder, h.ops, "/log Nappe de 2 km")
    async with asyncio.timeout(10):
        await entered.wait()
    await asyncio.sleep(0.5)  # the bot would have asked for more by now
    pending = [u.payload for u in h.sim.world.updates.pending]
    assert any(p.get("message", {}).get("message_id") == message.message_id for p in pending)
    release.set()
    await h.settle()
    assert h.sim.world.updates.pending == []
    texts = [e.text for e in await incidents.timeline(h.runtime.db, 1, last=10)]
    assert texts.count("Nappe de 2 km") == 1


async def test_the_webhook_answers_only_once_the_update_is_handled(
    sim: TelegramSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_e2e_webhook import SECRET, _free_port

    port = _free_port()
    h = Harness(
        sim,
        tmp_path / "hook.db",
        telegram={"token": "123456:TEST-token", "mode": "webhook"},
        webhook={
            "listen": "127.0.0.1",
            "port": port,
            "url_path": "tg",
            "url": f"http://127.0.0.1:{port}/tg",
            "secret_token": SECRET,
        },
    )
    await h.start()
    try:
        await h.say(h.commander, h.ops, "/incident Feu de broussailles")
        entered, release = asyncio.Event(), asyncio.Event()
        original = incidents.add_note

        async def slow_add_note(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            await release.wait()
            return await original(*args, **kwargs)

        monkeypatch.setattr(incidents, "add_note", slow_add_note)
        update = {
            "message": {
                "message_id": 99,
                "date": 0,
                "text": "/log Vent tournant",
                "chat": {"id": h.ops.id, "type": "supergroup", "title": "Tournai ops"},
                "from": {"id": h.responder.id, "is_bot": False, "first_name": "Jan"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
            }
        }
        posted = asyncio.create_task(sim.post_to_webhook(update))
        async with asyncio.timeout(10):
            await entered.wait()
        await asyncio.sleep(0.3)
        assert not posted.done()  # Telegram has no answer yet: it would deliver it again
        release.set()
        assert await posted == 200
        await h.settle()
        texts = [e.text for e in await incidents.timeline(h.runtime.db, 1, last=10)]
        assert texts.count("Vent tournant") == 1
    finally:
        await h.stop()


async def test_a_slow_update_holds_back_no_other_chat_and_is_confirmed_only_once_handled(
    h: Harness,
) -> None:
    """Telegram answers the /log of one group slowly (2 s): the updates of another group that
    arrive meanwhile are fetched and handled at once, and the offset sent to Telegram never
    passes the slow update until it is handled."""
    sim = h.sim
    await h.say(h.commander, h.ops, "/incident Feu de cheminée")
    await h.say(h.commander_fr, h.ops_fr, "/incident Accident, A22")
    card_fr = h.card(h.ops_fr)
    confirmed: list[int] = []
    queue = sim.world.updates
    original = queue.confirm

    def confirm(offset: int) -> None:
        confirmed.append(offset)
        original(offset)

    queue.confirm = confirm  # type: ignore[method-assign]
    sim.faults.delay("sendMessage", 2.0, times=1, chat_id=h.ops.id)
    started = asyncio.get_running_loop().time()
    await sim.send_text(h.responder, h.ops, "/log Pompiers sur place")
    slow = queue.last_id
    await asyncio.sleep(0.3)  # the slow /log is in hand, its answer on its way
    await sim.send_text(h.responder, h.ops_fr, "Blessé léger, conscient", reply_to=card_fr)
    fast = queue.last_id

    async def stored() -> bool:
        entries = await incidents.timeline(h.runtime.db, 2, last=10)
        return any(e.text == "Blessé léger, conscient" for e in entries)

    while not await stored():
        assert asyncio.get_running_loop().time() - started < 1.5, "held back by the slow update"
        await asyncio.sleep(0.02)
    # handled, yet not confirmed: an update before it is still in hand
    assert all(offset <= slow for offset in confirmed), confirmed
    assert any(u.update_id == fast for u in queue.pending)
    await h.settle()
    assert any(offset > fast for offset in confirmed)
    assert "Pompiers sur place" in h.card(h.ops).text  # type: ignore[operator]
