"""End to end: escalation phases told to the authorities' chats per country and level, in
their languages; the at-risk site warning on the card and in /status; /sites."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.i18n import translator
from bot.core.models import TimelineKind
from bot.geo import sites
from bot.incidents import phases
from bot.incidents import service as incidents
from bot.resources import roster_csv
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
    changes = [
        (e.kind, e.field, e.text)
        for e in entries
        if e.kind in (TimelineKind.PHASE, TimelineKind.INVOLVED)
    ]
    assert changes == [
        (TimelineKind.PHASE, "BE", "provincial"),
        (TimelineKind.INVOLVED, "FR", "departmental"),  # France was not involved before
        (TimelineKind.PHASE, "BE", "federal"),
        (TimelineKind.PHASE, "BE", "provincial"),
    ]


CMIC = (
    "code,type,name,agency,country,lat,lon,capacity,status\n"
    "FR-SDIS59-CMIC-LIL1,hazmat,CMIC Lille,SDIS 59,FR,50.6319,3.0684,1,available\n"
)


@pytest.fixture
async def with_units(sim: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    """The agencies' chats too (a French unit can be asked), and the prefecture's chat."""
    chats = settings_data(tmp_path / "units.db", agencies=True)["chats"] + [
        {"id": i, "name": n, "kind": "liaison", "country": c, "languages": lang}
        for i, n, c, lang in AUTHORITY_CHATS
    ]
    running = Harness(
        sim,
        tmp_path / "units.db",
        chats=chats,
        escalation={"chats": {"FR.departmental": [PREFECTURE_FR]}},
    )
    for chat_id, name, _, _ in AUTHORITY_CHATS:
        sim.add_chat(chat_id, "supergroup", title=name, members=[running.commander])
    await running.start()
    await roster_csv.import_roster(running.runtime.db, CMIC)
    yield running
    await running.stop()


async def test_a_country_shows_only_as_involved_as_it_is(with_units: Harness) -> None:
    """No French mayor directs an operation in Belgium: a Belgian incident shows France only
    once its units work there (under Belgian command), and an escalation for France says
    France is involved from then on, and by whom, rather than in charge from the start."""
    h = with_units
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    await h.sim.send_location(h.commander, h.ops, 50.6140, 3.4060, reply_to=h.card(h.ops))
    await h.settle()
    card = h.card(h.ops).text or ""
    assert "🇫🇷" not in card and FR("communal phase") in card

    await h.say(h.commander, h.ops, "/request 1 CMIC")
    offer = h.sim.last_bot_message(h.agency_sdis59)
    assert offer is not None and offer.callback_data, h.sim.dump()
    await h.press(h.duty_sdis59, h.agency_sdis59, offer, offer.callback_data[0])
    await h.say(h.commander, h.ops, "/status #1")
    shown = {"card": h.card(h.ops).text or "", "status": h.last_text(h.ops)}
    assert "FR-SDIS59-CMIC-LIL1" in shown["card"]  # committed, under Belgian command
    for where, text in shown.items():
        for tr in (FR, NL):
            # France works the incident, nobody French directs it
            assert tr("the mayor (maire)") not in text, where
            assert tr("communal level") not in text, where
            assert (
                tr(
                    "{country} involved: its units work under the command of {incident_country}"
                ).format(country=tr("France"), incident_country=tr("Belgium"))
                in text
            ), where

    # the plume drifts across the border: the Belgian commander involves France
    await h.say(h.commander, h.ops, "/escalate FR")
    card = h.card(h.ops).text or ""
    for tr in (FR, NL):
        involved = tr("{country} involved, by {name}: {level}").format(
            country=tr("France"), name="Marc Delattre", level=""
        )
        line = next(row for row in card.splitlines() if involved in row)
        assert tr("departmental level") in line and tr("the préfet") in line
        # the timeline says so too
        assert (
            tr("{country} involved: {phase} ({authority})").format(
                country=tr("France"),
                phase=tr("departmental level"),
                authority=tr("the préfet"),
            )
            in card
        )
    notice = h.last_text(_chat(h, PREFECTURE_FR))
    assert (
        FR("⬆️ {country} involved in #{ref} ({incident_country}): {phase}").format(
            country=FR("France"),
            ref=1,
            incident_country="🇧🇪 " + FR("Belgium"),
            phase=FR("departmental level"),
        )
        in notice
    )
    assert FR("(before: {before})").split("{")[0] not in notice
    # France was not in charge from the declaration: no French period before the escalation
    async with h.runtime.db.read() as tx:
        incident = await incidents.incident_in(tx, 1)
        assert incident is not None
        history = await phases.history_in(tx, incident)
    assert [(p.country.value, p.level.value) for p in history] == [
        ("BE", "communal"),
        ("FR", "departmental"),
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


async def test_the_escalation_answer_reads_as_sentences(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Incendie usine chimique, Comines")
    await h.say(h.commander, h.ops, "/escalate")
    answer = h.last_text(h.ops)
    assert (
        FR("Authority in charge: {authority}.").format(authority=FR("the provincial governor"))
        in answer
    )
    assert (
        NL("Authority in charge: {authority}.").format(authority=NL("the provincial governor"))
        in answer
    )
    # no sentence starts in lower case ("… phase provinciale. le gouverneur …")
    assert not re.search(r"[.!?] +[a-zà-ÿ]", answer), answer
    card = h.card(h.ops).text or ""
    assert "aux commandes" not in card and "in charge" not in card
    assert (
        FR("{phase} since {time} · in charge: {authority}").split("{phase}")[1].split("{time}")[0]
        in card
    )
