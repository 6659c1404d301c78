"""End to end: escalation phases told to the authorities' chats per country and level, in
their languages; the at-risk site warning on the card and in /status; /sites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.i18n import translator
from bot.core.models import TimelineKind
from bot.geo import sites
from bot.incidents import service as incidents
from bot.simulator import SimChat
from tests.conftest import settings_data
from tests.harness import Harness

FR = translator("fr").gettext
NL = translator("nl").gettext
EN = translator("en").gettext
SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "data" / "sites_sample.csv"


# The authorities' chats: a Belgian provincial crisis centre (French and Dutch), a French
# prefecture (French), the Belgian federal crisis centre as a Dutch-only chat.
PROVINCE_BE = -100601
PREFECTURE_FR = -100602
FEDERAL_BE = -100603
AUTHORITY_CHATS = [
    (PROVINCE_BE, "CC provincial Hainaut", "BE", ["fr", "nl"]),
    (PREFECTURE_FR, "COD préfecture du Nord", "FR", ["fr"]),
    (FEDERAL_BE, "NCCN", "BE", ["nl"]),
]


@pytest.fixture
async def h(sim: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    chats = settings_data(tmp_path / "e2e.db")["chats"] + [
        {"id": i, "name": n, "kind": "liaison", "country": c, "languages": lang}
        for i, n, c, lang in AUTHORITY_CHATS
    ]
    running = Harness(
        sim,
        tmp_path / "e2e.db",
        chats=chats,
        escalation={
            "chats": {
                "BE.provincial": [PROVINCE_BE],
                "BE.federal": [FEDERAL_BE],
                "FR.departmental": [PREFECTURE_FR],
            }
        },
    )
    members = [running.commander, running.liaison, running.admin]
    for chat_id, name, _, _ in AUTHORITY_CHATS:
        sim.add_chat(chat_id, "supergroup", title=name, members=members)
    await running.start()
    yield running
    await running.stop()


def _chat(h: Harness, chat_id: int) -> SimChat:
    return h.sim.chat(chat_id)


async def test_escalation_tells_the_chats_of_each_country_and_level(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Incendie usine chimique, Comines")
    before_fr = len(h.sim.bot_messages(_chat(h, PREFECTURE_FR)))
    await h.say(h.commander, h.ops, "/escalate")
    # the Belgian provincial crisis centre hears it, in French and in Dutch
    notice = h.last_text(_chat(h, PROVINCE_BE))
    assert FR("provincial phase") in notice and NL("provincial phase") in notice
    assert FR("the provincial governor") in notice and NL("the provincial governor") in notice
    assert "#1" in notice and "Incendie usine chimique" in notice
    # the French side was not escalated: its liaison chat hears nothing
    assert len(h.sim.bot_messages(_chat(h, PREFECTURE_FR))) == before_fr
    card = h.card(h.ops).text or ""
    assert FR("provincial phase") in card and NL("provincial phase") in card

    await h.say(h.commander, h.ops, "/escalate FR")
    notice = h.last_text(_chat(h, PREFECTURE_FR))
    assert FR("departmental level") in notice and FR("the préfet") in notice
    assert NL("departmental level") not in notice or NL("departmental level") == FR(
        "departmental level"
    )
    card = h.card(h.ops).text or ""
    assert FR("departmental level") in card and FR("provincial phase") in card

    await h.say(h.commander, h.ops, "/escalate BE")
    # the federal level's chat reads Dutch only; the provincial one hears it hand over
    federal = h.last_text(_chat(h, FEDERAL_BE))
    assert NL("federal phase") in federal and FR("federal phase") not in federal
    assert NL("federal phase") in h.last_text(_chat(h, PROVINCE_BE))

    await h.say(h.commander, h.ops, "/deescalate BE")
    assert NL("⬇️ De-escalation of #{ref}: {phase}").format(
        ref=1, phase=NL("provincial phase")
    ) in h.last_text(_chat(h, FEDERAL_BE))

    entries = await incidents.timeline(h.runtime.db, 1, last=50)
    phases = [(e.field, e.text) for e in entries if e.kind is TimelineKind.PHASE]
    assert phases == [
        ("BE", "provincial"),
        ("FR", "departmental"),
        ("BE", "federal"),
        ("BE", "provincial"),
    ]


async def test_escalation_is_for_commanders_and_stops_at_the_ends(h: Harness) -> None:
    await h.say(h.commander, h.ops_en, "/incident Flooding of the Lys")
    await h.say(h.responder, h.ops_en, "/escalate")
    assert h.last_text(h.ops_en).startswith("⛔")
    await h.say(h.commander, h.ops_en, "/deescalate")
    assert EN("#{ref} is already at the communal level.").format(ref=1) in h.last_text(h.ops_en)
    for _ in range(3):
        await h.say(h.commander, h.ops_en, "/escalate")
    # BE: communal → provincial → federal → EU Mechanism; one more is refused
    assert EN("EU Civil Protection Mechanism requested") in (h.card(h.ops_en).text or "")
    await h.say(h.commander, h.ops_en, "/escalate")
    assert EN("#{ref} is already at the highest level.").format(ref=1) in h.last_text(h.ops_en)
    await h.say(h.commander, h.ops_en, "/escalate XX")
    assert h.last_text(h.ops_en).startswith("⛔")


async def test_the_card_warns_of_a_site_whose_radius_the_incident_is_in(h: Harness) -> None:
    report = await sites.import_sites(h.runtime.db, SAMPLE.read_text(encoding="utf-8"))
    assert report.added == 11
    await h.say(h.commander, h.ops, "/incident Nuage toxique, zoning industriel")
    # 1.8 km due north of the sample Seveso upper-tier site of Comines-Warneton
    await h.sim.send_location(
        h.commander, h.ops, 50.782 + 1.8 / 111.195, 3.025, reply_to=h.card(h.ops)
    )
    await h.settle()
    card = h.card(h.ops).text or ""
    for tr in (FR, NL):
        assert tr("Seveso upper-tier site") in card
    assert "1,8 km" in card  # French and Dutch decimals
    assert "Dépôt chimique de Comines-Warneton (SAMPLE)" in card
    assert "PPUI / BNIP Comines-Warneton" in card
    # Chooz is far away: no warning for it
    assert "Chooz" not in card
    await h.say(h.commander, h.ops, "/status #1")
    status = h.last_text(h.ops)
    assert "Dépôt chimique de Comines-Warneton (SAMPLE)" in status and "1,8 km" in status


async def test_sites_near_a_place_named_in_dutch(h: Harness) -> None:
    await sites.import_sites(h.runtime.db, SAMPLE.read_text(encoding="utf-8"))
    await h.say(h.commander, h.ops_en, "/sites Komen")
    text = h.last_text(h.ops_en)
    assert "Comines (Hainaut, BE)" in text
    assert "Dépôt chimique de Comines-Warneton (SAMPLE)" in text
    assert "Gravelines" not in text  # about 80 km away
    await h.say(h.commander, h.ops_en, "/sites Comines")
    which = h.last_text(h.ops_en)  # which one?
    assert "Comines (Nord)" in which and "Comines (Hainaut)" in which


async def test_site_hazards_are_told_in_each_language_of_the_group(h: Harness) -> None:
    await sites.import_sites(h.runtime.db, SAMPLE.read_text(encoding="utf-8"))
    await h.say(h.commander, h.ops, "/sites Komen")
    both = h.last_text(h.ops)
    assert "chlore et nuage toxique" in both  # French list, French words
    assert "chloor en giftige wolk" in both
    assert "chlorine" not in both and "toxic" not in both
    await h.say(h.commander, h.ops, "/sites Tournai")
    assert "transport de matières dangereuses" in h.last_text(h.ops)
    assert "vervoer van gevaarlijke goederen" in h.last_text(h.ops)
