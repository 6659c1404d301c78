"""End to end: the roster and cross-border resource requests, with a real Application against
the stand-in. Commanders type /request, agency duty officers press Commit and Decline in their
own chats, and the test reads what each chat received."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core import directory, vocabulary
from bot.core.i18n import translator
from bot.core.models import OfferStatus, RequestStatus, ResourceType, UnitStatus
from bot.render.keyboards import offer_data, parse_offer_press, rollcall_data, unit_data
from bot.resources import requests, roster_csv
from bot.resources import units as resources
from bot.simulator import SimChat, SimMessage, TelegramSimulator
from tests.conftest import AGENCY_FLUVIA
from tests.harness import Harness
from tests.units import once

FR = translator("fr").gettext
NL = translator("nl").gettext
RAIL_YARD = (50.6140, 3.4060)  # Tournai rail yard
ROOT = Path(__file__).resolve().parent.parent

ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
BE-WAPI-AMB-2,ambulance,Ambulance Mouscron 1,ZS WAPI,BE,50.7444,3.2064,1,available
FR-SDIS59-VSAV-1,VSAV,VSAV Tourcoing 1,SDIS 59,FR,50.7239,3.1612,1,available
FR-SDIS59-VSAV-2,ambulance,VSAV Lille 1,SDIS 59,FR,50.6319,3.0684,1,available
BE-FLUVIA-ZW-1,ziekenwagen,Ziekenwagen Kortrijk 1,Fluvia,BE,50.8279,3.2649,1,available
FR-SDIS59-FPT-1,autopompe,FPT Lille,SDIS 59,FR,50.6319,3.0684,1,available
"""


def _harness(sim: TelegramSimulator, tmp_path: Path, **requests_settings: object) -> Harness:
    return Harness(
        sim,
        tmp_path / "resources.db",
        agencies=True,
        requests=requests_settings,
        roster={"rollcall_time": "06:30"},
    )


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    running = _harness(sim, tmp_path, extra_offers=3)
    await running.start()
    await roster_csv.import_roster(running.runtime.db, ROSTER)
    yield running
    await running.stop()


async def _located_incident(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    await h.sim.send_location(h.commander, h.ops, *RAIL_YARD, reply_to=h.card(h.ops))
    await h.settle()


def _offers(h: Harness, chat: SimChat) -> list[SimMessage]:
    """Offer messages in an agency chat that still carry Commit / Decline."""
    return [
        m
        for m in h.sim.bot_messages(chat)
        if any(d.startswith("r1:") and d.endswith(":c") for d in m.callback_data)
    ]


def _offer_id(message: SimMessage) -> int:
    press = parse_offer_press(message.callback_data[0])
    assert press is not None
    return press[0]


async def _request_card(h: Harness, chat: SimChat, number: int = 1) -> str:
    """The request card as the chat shows it (the message the bot keeps editing)."""
    async with h.runtime.db.read() as tx:
        state = await requests.card_state(tx, number)
    assert state is not None and state[1]["card_message_id"] is not None, h.sim.dump()
    return h.sim.message(chat, state[1]["card_message_id"]).text or ""


async def test_a_request_goes_to_the_nearest_agencies_and_exactly_two_commit(h: Harness) -> None:
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 2 ziekenwagen #1 zone d'exclusion au nord")
    # offers in the right agency chats, each in its own language
    wapi, sdis, fluvia = (
        _offers(h, h.agency_wapi),
        _offers(h, h.agency_sdis59),
        _offers(h, h.agency_fluvia),
    )
    assert len(wapi) == 2 and len(sdis) == 2 and len(fluvia) == 1
    assert "BE-WAPI-AMB-1" in (wapi[0].text or "") and "BE-WAPI-AMB-2" in (wapi[1].text or "")
    dutch = fluvia[0]
    assert NL("Commit") in dutch.buttons[0][0] and FR("Commit") not in dutch.buttons[0][0]
    assert "ziekenwagen" in (dutch.text or "") and "BE-FLUVIA-ZW-1" in (dutch.text or "")
    assert "zone d'exclusion au nord" in (dutch.text or "")
    french = sdis[0]
    assert FR("Commit") in french.buttons[0][0]
    assert "🇫🇷→🇧🇪" in (french.text or "")
    assert FR("This unit would cross the border.") in (french.text or "")
    # no other chat was asked; the fire engine never
    assert _offers(h, h.ops) == [] and _offers(h, h.liaison_fr) == []
    assert all("FPT" not in (m.text or "") for m in sdis)
    # the request card in the incident chat, both languages
    card = await _request_card(h, h.ops)
    assert FR("Request {number} · incident #{ref} {title}").split(" ")[0] in card
    assert "BE-FLUVIA-ZW-1" in card and "— — —" in card

    # the button of an offer nobody pressed, as an agency's phone still shows it later
    late = (wapi[1].message_id, wapi[1].callback_data[0])
    # three agencies press Commit at the same instant: the first two get the job
    q_sdis = await h.sim.press(
        h.duty_sdis59, h.agency_sdis59, sdis[0].message_id, sdis[0].callback_data[0]
    )
    q_fluvia = await h.sim.press(
        h.duty_fluvia, h.agency_fluvia, dutch.message_id, dutch.callback_data[0]
    )
    q_wapi = await h.sim.press(
        h.duty_wapi, h.agency_wapi, wapi[0].message_id, wapi[0].callback_data[0]
    )
    await h.settle()
    answers = h.sim.callback_answers
    assert answers[q_sdis].text == FR("Committed. Thank you.")
    assert answers[q_fluvia].text == NL("Committed. Thank you.")
    assert answers[q_wapi].show_alert and (answers[q_wapi].text or "").startswith("⛔")
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None
    assert request.status is RequestStatus.FILLED and request.committed == 2
    committed = sorted(o.unit.code for o in request.offers if o.status is OfferStatus.COMMITTED)
    assert committed == ["BE-FLUVIA-ZW-1", "FR-SDIS59-VSAV-1"]
    units = await resources.roster(h.runtime.db)
    assert sorted(u.code for u in units if u.status is UnitStatus.COMMITTED) == committed
    # the pressed offer now offers En route / On scene; the losing one has no buttons left
    after = h.sim.message(h.agency_sdis59, sdis[0].message_id)
    assert offer_data(_offer_id(sdis[0]), "e") in after.callback_data
    lost = h.sim.message(h.agency_wapi, wapi[0].message_id)
    assert lost.callback_data == []
    # the offer nobody pressed was edited: it says the request is filled, without buttons
    closed = h.sim.message(h.agency_wapi, late[0])
    assert closed.callback_data == []
    assert FR("The request is filled: this unit is not needed.") in (closed.text or "")
    # a late press (pressed before the edit reached the phone) changes nothing
    q_again = await h.sim.press(h.duty_wapi, h.agency_wapi, *late, forged=True)
    await h.settle()
    assert answers[q_again].show_alert
    assert answers[q_again].text == "⛔ " + FR(
        "The request is already filled: thank you, nothing more is needed."
    )
    # the incident card shows the units coming, with the border flag, in both languages
    incident_card = h.card(h.ops).text or ""
    assert incident_card.count("FR-SDIS59-VSAV-1") == 2 and "🇫🇷→🇧🇪" in incident_card
    assert FR("Resources") in incident_card and NL("Resources") in incident_card
    assert "BE-FLUVIA-ZW-1" in incident_card
    # the request card and the commander's notice
    card = await _request_card(h, h.ops)
    assert FR("filled") in card and "FR-SDIS59-VSAV-1" in card
    notices = [t for t in h.bot_texts(h.ops) if FR("Filled: {what} committed.").split(":")[0] in t]
    assert len(notices) == 1
    # the liaison chats of both countries are told about the crossing, once each
    for chat in (h.liaison_fr, h.liaison_be):
        crossings = [t for t in h.bot_texts(chat) if FR("Border crossing") in t]
        assert len(crossings) == 1 and "FR-SDIS59-VSAV-1" in crossings[0], chat.title
    assert NL("Border crossing") in h.bot_texts(h.liaison_be)[-1]
    assert not any("BE-FLUVIA-ZW-1" in t for t in h.bot_texts(h.liaison_fr))

    # en route, then released by the commander
    await h.press(h.duty_sdis59, h.agency_sdis59, after, offer_data(_offer_id(sdis[0]), "e"))
    assert FR("en route") in (h.card(h.ops).text or "")
    await h.say(h.commander, h.ops, "/release FR-SDIS59-VSAV-1")
    assert h.last_text(h.ops).startswith("🔓")
    unit = await resources.get_unit(h.runtime.db, "FR-SDIS59-VSAV-1")
    assert unit is not None and unit.status is UnitStatus.AVAILABLE
    assert FR("released") in (h.card(h.ops).text or "")
    assert any(FR("released") in t for t in h.bot_texts(h.agency_sdis59))
    # closing the incident sends the other unit home, and its agency hears of it
    await h.say(h.commander, h.ops, "/close")
    unit = await resources.get_unit(h.runtime.db, "BE-FLUVIA-ZW-1")
    assert unit is not None and unit.status is UnitStatus.AVAILABLE
    assert any(NL("released") in t for t in h.bot_texts(h.agency_fluvia))


async def test_a_decline_moves_to_the_next_unit(sim: TelegramSimulator, tmp_path: Path) -> None:
    h = _harness(sim, tmp_path, extra_offers=0)
    await h.start()
    try:
        await roster_csv.import_roster(h.runtime.db, ROSTER)
        await _located_incident(h)
        await h.say(h.commander, h.ops, "/request 1 ambulance")
        wapi = _offers(h, h.agency_wapi)
        assert len(wapi) == 1 and "BE-WAPI-AMB-1" in (wapi[0].text or "")
        assert _offers(h, h.agency_sdis59) == []
        query = await h.press(
            h.duty_wapi, h.agency_wapi, wapi[0], offer_data(_offer_id(wapi[0]), "d")
        )
        assert h.sim.callback_answers[query].text == FR("Declined: the next unit is asked.")
        wapi = _offers(h, h.agency_wapi)
        assert len(wapi) == 1 and "BE-WAPI-AMB-2" in (wapi[0].text or "")
        card = await _request_card(h, h.ops)
        assert FR("declined") in card and "BE-WAPI-AMB-1" in card
        # the next one declines too; then SDIS 59, across the border
        await h.press(h.duty_wapi, h.agency_wapi, wapi[0], offer_data(_offer_id(wapi[0]), "d"))
        sdis = _offers(h, h.agency_sdis59)
        assert len(sdis) == 1 and "FR-SDIS59-VSAV-1" in (sdis[0].text or "")
    finally:
        await h.stop()


async def test_an_unanswered_offer_times_out_even_across_a_restart(
    sim: TelegramSimulator, tmp_path: Path
) -> None:
    h = _harness(sim, tmp_path, extra_offers=0, offer_timeout_minutes=0.02)  # 1.2 s
    await h.start()
    try:
        await roster_csv.import_roster(h.runtime.db, ROSTER)
        await _located_incident(h)
        await h.say(h.commander, h.ops, "/request 1 ambulance")
        assert len(_offers(h, h.agency_wapi)) == 1
        # the bot stops before the time-out and starts again after it
        await h.stop()
        await h.start()
        await sim.wait_for(
            lambda: len(h.sim.bot_messages(h.agency_wapi)) == 2,
            timeout=15,
            message="no second offer",
        )
        await h.settle()
        request = await requests.get_request(h.runtime.db, 1)
        assert request is not None
        assert request.offers[0].status is OfferStatus.EXPIRED
        assert request.offers[1].unit.code == "BE-WAPI-AMB-2"
        # the offer that timed out says so, without buttons; the next one has them
        first, second = h.sim.bot_messages(h.agency_wapi)
        assert first.callback_data == [] and "BE-WAPI-AMB-1" in (first.text or "")
        assert FR("No answer in time: the next unit was asked.") in (first.text or "")
        assert _offers(h, h.agency_wapi) == [second]
    finally:
        await h.stop()


async def test_nobody_can_help(h: Harness) -> None:
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 2 bateaux")
    card = await _request_card(h, h.ops)
    assert FR("not filled") in card and "ERCC" in card
    assert NL("not filled") in card
    for chat in (h.agency_wapi, h.agency_sdis59, h.agency_fluvia):
        assert _offers(h, chat) == []
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None and request.status is RequestStatus.UNFILLED


# SMUR/MUG of agencies that have no chat in the harness (as in config.example.toml)
NO_CHAT_ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
FR-SAMU59-SMUR-LIL1,smur,SMUR Lille – CHU,SAMU 59,FR,50.6106,3.0345,1,available
FR-SAMU59-SMUR-RBX1,smur,SMUR Roubaix,SAMU 59,FR,50.6826,3.1867,1,available
BE-AZG-MUG-1,mug,MUG Kortrijk – AZ Groeninge,AZ Groeninge,BE,50.8166,3.2800,1,available
"""


async def test_units_in_reach_whose_agency_cannot_be_reached_are_named(h: Harness) -> None:
    """Three SMUR/MUG lie within 25 km, but their agencies have no chat: the answer says so
    by name (not "nobody in reach answered"), and the liaisons are told, to phone them."""
    await roster_csv.import_roster(h.runtime.db, NO_CHAT_ROSTER)
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 1 MUG")
    card = await _request_card(h, h.ops)
    for tr in (FR, NL):
        smur = tr(vocabulary.TYPE[ResourceType.SMUR])
        assert (
            tr(
                "Nobody could be asked: the available {type} within reach belong to agencies "
                "Passerelle cannot reach."
            ).format(type=smur)
            in card
        )
        assert (
            tr("Nobody can help: no available {type} within reach answered.").format(type=smur)
            not in card
        )
        assert (
            tr(
                "In reach but not asked: their agency has no chat Passerelle can reach. "
                "Call them directly:"
            )
            in card
        )
    for name in ("FR-SAMU59-SMUR-LIL1", "FR-SAMU59-SMUR-RBX1", "BE-AZG-MUG-1"):
        assert card.count(name) == 2  # in the French and in the Dutch block
    assert "SAMU 59" in card and "AZ Groeninge" in card
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None and request.status is RequestStatus.UNFILLED
    # nobody was offered anything: no agency chat has them
    for chat in (h.agency_wapi, h.agency_sdis59, h.agency_fluvia):
        assert _offers(h, chat) == []
    # the liaison chats of both countries are told who to phone, and why
    for chat, tr in ((h.liaison_fr, FR), (h.liaison_be, NL)):
        told = h.last_text(chat)
        assert "BE-AZG-MUG-1" in told and "FR-SAMU59-SMUR-LIL1" in told, h.sim.dump()
        assert tr("no chat of this agency is registered in Passerelle") in told
        assert "Fuite de chlore" in told


async def test_a_unit_whose_agency_chat_is_cut_off_is_named_with_why(h: Harness) -> None:
    """Fluvia's chat blocked the bot: its boat, the only one in reach, is named, and the
    liaisons read that the agency's chat no longer receives Passerelle's messages."""
    boat = (
        "code,type,name,agency,country,lat,lon,capacity,status\n"
        "BE-FLUVIA-BOOT-1,boat,Boot Leie,Fluvia,BE,50.83,3.26,1,available\n"
    )
    await roster_csv.import_roster(h.runtime.db, boat, replace=False)
    await once(h.runtime.db, directory.mark_unreachable, AGENCY_FLUVIA)
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 1 bateau")
    card = await _request_card(h, h.ops)
    assert "BE-FLUVIA-BOOT-1" in card and "Fluvia" in card
    assert (
        FR("Nobody can help: no {type} is available within reach.").format(
            type=FR(vocabulary.TYPE[ResourceType.BOAT])
        )
        not in card
    )
    told = h.last_text(h.liaison_be)
    assert "BE-FLUVIA-BOOT-1" in told
    assert (
        NL("its chat no longer receives Passerelle's messages (the bot was removed or blocked)")
        in told
    )
    assert _offers(h, h.agency_fluvia) == []


async def test_a_request_without_location_asks_for_a_place(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Accident A8, Mouscron")
    await h.say(h.commander, h.ops, "/request ambulance")
    card_message = h.sim.last_bot_message(h.ops)
    assert card_message is not None
    assert FR("waiting for the location") in (card_message.text or "")
    assert _offers(h, h.agency_wapi) == []
    await h.say(h.commander, h.ops, "Atlantide", reply_to=card_message)
    unknown = h.last_text(h.ops)
    assert unknown.startswith("Je ne connais pas le lieu Atlantide.") and "— — —" in unknown
    assert _offers(h, h.agency_wapi) == []
    await h.say(h.commander, h.ops, "Comines", reply_to=card_message)
    assert "Comines BE" in h.last_text(h.ops)  # two Comines: which one?
    await h.say(h.commander, h.ops, "Moeskroen", reply_to=card_message)
    offers = _offers(h, h.agency_wapi)
    # nearest to Mouscron: its own ambulance
    assert len(offers) == 1 and "BE-WAPI-AMB-2" in (offers[0].text or "")
    updated = h.sim.message(h.ops, card_message.message_id)
    assert FR("waiting for the location") not in (updated.text or "")


async def test_agencies_keep_their_own_units_only(h: Harness) -> None:
    await h.say(h.duty_fluvia, h.agency_fluvia, "/unit BE-WAPI-AMB-1 onderhoud")
    refusal = h.last_text(h.agency_fluvia)
    assert refusal.startswith("⛔") and "ZS WAPI" in refusal
    await h.say(h.duty_fluvia, h.agency_wapi, "/unit BE-WAPI-AMB-1 maintenance")
    assert h.last_text(h.agency_wapi).startswith("⛔")
    unit = await resources.get_unit(h.runtime.db, "BE-WAPI-AMB-1")
    assert unit is not None and unit.status is UnitStatus.AVAILABLE
    # the owner may, in any of the three languages
    await h.say(h.duty_wapi, h.agency_wapi, "/unit BE-WAPI-AMB-1 indisponible garage")
    assert h.last_text(h.agency_wapi).startswith("✅")
    unit = await resources.get_unit(h.runtime.db, "BE-WAPI-AMB-1")
    assert unit is not None and unit.status is UnitStatus.UNAVAILABLE and unit.note == "garage"
    # the unit's buttons: shown to its agency; a forged press by another agency is refused
    await h.say(h.duty_wapi, h.agency_wapi, "/unit BE-WAPI-AMB-1")
    shown = h.sim.last_bot_message(h.agency_wapi)
    assert shown is not None
    back = unit_data(unit.id, UnitStatus.AVAILABLE)
    assert back in shown.callback_data
    query = await h.press(h.duty_fluvia, h.agency_wapi, shown, back)
    assert h.sim.callback_answers[query].show_alert
    query = await h.press(h.duty_wapi, h.agency_wapi, shown, back)
    assert not h.sim.callback_answers[query].show_alert
    unit = await resources.get_unit(h.runtime.db, "BE-WAPI-AMB-1")
    assert unit is not None and unit.status is UnitStatus.AVAILABLE
    # an offer of WAPI's unit cannot be committed by Fluvia's officer either
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 1 ambulance")
    offer = _offers(h, h.agency_wapi)[0]
    query = await h.press(h.duty_fluvia, h.agency_wapi, offer, offer.callback_data[0])
    assert h.sim.callback_answers[query].show_alert
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None and request.committed == 0


async def test_roster_counts_and_lists_freshest_first(h: Harness) -> None:
    await h.say(h.duty_wapi, h.agency_wapi, "/unit BE-WAPI-AMB-2 maintenance")
    await h.say(h.responder, h.ops, "/roster ziekenwagen")
    text = h.last_text(h.ops)
    french = text.split("— — —")[0]
    # available/total per country, then the units, the one just confirmed first
    assert "🇧🇪 2/3" in french and "🇫🇷 2/2" in french
    assert french.index("BE-WAPI-AMB-2") < french.index("BE-WAPI-AMB-1")
    assert "FPT" not in french
    await h.say(h.responder, h.ops, "/roster FR autopomp")
    assert "FR-SDIS59-FPT-1" in h.last_text(h.ops) and "AMB" not in h.last_text(h.ops)
    await h.say(h.responder, h.ops, "/roster fusée")
    assert h.last_text(h.ops).startswith("⛔")


async def test_the_daily_roll_call_asks_each_agency_to_confirm(h: Harness) -> None:
    assert h.app is not None and h.app.job_queue is not None
    jobs = h.app.job_queue.get_jobs_by_name("rollcall")
    assert len(jobs) == 1
    await jobs[0].run(h.app)
    await h.settle()
    message = h.sim.last_bot_message(h.agency_fluvia)
    assert message is not None and NL("Roll-call: {agency}").format(agency="Fluvia") in (
        message.text or ""
    )
    assert rollcall_data(None) in message.callback_data
    sdis = h.sim.last_bot_message(h.agency_sdis59)
    assert sdis is not None and "FR-SDIS59-FPT-1" in (sdis.text or "")
    # one tap for all: every Fluvia unit is confirmed by the duty officer
    await h.press(h.duty_fluvia, h.agency_fluvia, message, rollcall_data(None))
    unit = await resources.get_unit(h.runtime.db, "BE-FLUVIA-ZW-1")
    assert unit is not None and unit.confirmed_by == "Els Vermeulen"
    # another agency's officer cannot confirm for Fluvia
    query = await h.press(h.duty_wapi, h.agency_fluvia, message, rollcall_data(None))
    assert h.sim.callback_answers[query].show_alert
    # run twice the same day: asked once
    await jobs[0].run(h.app)
    await h.settle()
    rollcalls = [t for t in h.bot_texts(h.agency_fluvia) if t.startswith("📋")]
    assert len(rollcalls) == 1


def test_the_command_line_imports_exports_and_rejects_a_bad_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "cli.db"}"\n')
    good = tmp_path / "good.csv"
    good.write_text(ROSTER, encoding="utf-8")
    run = [sys.executable, "-m", "bot", "roster"]
    done = subprocess.run(
        [*run, "import", str(good), "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "6 units added" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,type,name,agency,country,lat,lon,capacity,status\n"
        "BE-X-1,ambulance,X,ZS WAPI,BE,50.6,3.4,1,available\n"
        "BE-X-2,ambulance,Y,ZS WAPI,BE,91,3.4,1,available\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [*run, "import", str(bad), "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert f"{bad}:3:6 (lat): 91 is outside -90 … 90" in done.stderr
    exported = subprocess.run(
        [*run, "export", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    assert exported.startswith("code,type,name,agency,country,lat,lon,capacity,status")
    assert "BE-WAPI-AMB-1" in exported and "BE-X-1" not in exported  # nothing half-imported
    assert len(exported.strip().splitlines()) == 7


async def test_a_unit_as_imported_says_so_in_words_not_the_importer_s_name(h: Harness) -> None:
    await h.say(h.duty_wapi, h.agency_wapi, "/unit BE-WAPI-AMB-2")
    shown = h.last_text(h.agency_wapi)
    assert FR("Status from the roster file, imported {time}").split(",")[0] in shown
    assert "par import" not in shown and "door import" not in shown
    await h.say(h.duty_wapi, h.agency_wapi, "/unit BE-WAPI-AMB-2 maintenance")
    await h.say(h.duty_wapi, h.agency_wapi, "/unit BE-WAPI-AMB-2")
    assert FR("Confirmed {time} by {name}").split("{")[0] in h.last_text(h.agency_wapi)


async def test_a_nearer_unit_that_cannot_be_asked_is_named_while_the_request_is_open(
    h: Harness,
) -> None:
    """WAPI's MUG, 20 km out, is asked; SAMU 59's SMUR at Tournai itself would have been asked
    first had its agency a chat: the open card names it at once and the liaisons are told,
    not only once the request has failed."""
    roster = (
        "code,type,name,agency,country,lat,lon,capacity,status\n"
        "FR-SAMU59-SMUR-TOURNAI,smur,SMUR de renfort,SAMU 59,FR,50.612,3.41,1,available\n"
        "BE-WAPI-MUG-1,mug,MUG Mouscron,ZS WAPI,BE,50.7444,3.2064,1,available\n"
    )
    await roster_csv.import_roster(h.runtime.db, roster, replace=False)
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 1 MUG")
    (offer,) = _offers(h, h.agency_wapi)
    assert "BE-WAPI-MUG-1" in (offer.text or "")
    card = await _request_card(h, h.ops)
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None and request.status is RequestStatus.OPEN
    assert card.count("FR-SAMU59-SMUR-TOURNAI") == 2  # French and Dutch blocks
    assert FR("/cancel withdraws this request.") in card
    told = h.last_text(h.liaison_fr)
    assert "FR-SAMU59-SMUR-TOURNAI" in told and "SAMU 59" in told
    assert FR("not filled") not in told and FR("None of the units asked can help.") not in told
    before = len(h.sim.bot_messages(h.liaison_fr))
    # WAPI declines: the request ends, and says why, naming the unit again
    await h.press(h.duty_wapi, h.agency_wapi, offer, offer.callback_data[1])
    card = await _request_card(h, h.ops)
    assert FR("None of the units asked can help.") in card
    assert card.count("FR-SAMU59-SMUR-TOURNAI") == 2
    # nobody new was passed over: the liaisons are not told twice
    assert len(h.sim.bot_messages(h.liaison_fr)) == before
