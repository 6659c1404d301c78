"""End to end: beds and places by the count. Burns centres on both sides of the border answer
a request for beds in their own chats (2 of 6, or fewer), several at the same instant; offers
close when the request is filled or cancelled; a hospital takes back places it committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.i18n import translator
from bot.core.models import OfferStatus, RequestStatus
from bot.render.keyboards import offer_data, parse_offer_press
from bot.resources import requests, roster_csv
from bot.resources import units as resources
from bot.simulator import SimChat, SimMessage, SimUser, TelegramSimulator
from tests.conftest import settings_data
from tests.harness import Harness

FR = translator("fr").gettext
NL = translator("nl").gettext
RAIL_YARD = (50.6140, 3.4060)  # Tournai rail yard
HOSPITAL_LILLE = -100601
HOSPITAL_CHARLEROI = -100602
HOSPITAL_GENT = -100603
DUTY_LILLE, DUTY_CHARLEROI, DUTY_GENT = 1101, 1102, 1103

# sample data: the burns centres' real towns, made-up counts
ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
FR-CHU-LILLE-BRULES,burns_bed,Brûlés CHU Lille,CHU de Lille,FR,50.6106,3.0346,6,available
BE-GHDC-BRULES,burns_bed,Centre des brûlés Loverval,GHdC Charleroi,BE,50.3747,4.4706,2,available
BE-UZGENT-BRW,brandwondenbed,Brandwondencentrum UZ Gent,UZ Gent,BE,51.0225,3.7110,2,available
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
"""

HOSPITAL_CHATS: list[dict[str, Any]] = [
    {
        "id": HOSPITAL_LILLE,
        "name": "CHU de Lille – régulation",
        "kind": "agency",
        "country": "FR",
        "languages": ["fr"],
        "agency": "CHU de Lille",
    },
    {
        "id": HOSPITAL_CHARLEROI,
        "name": "GHdC – brûlés",
        "kind": "agency",
        "country": "BE",
        "languages": ["fr"],
        "agency": "GHdC Charleroi",
    },
    {
        "id": HOSPITAL_GENT,
        "name": "UZ Gent – brandwonden",
        "kind": "agency",
        "country": "BE",
        "languages": ["nl"],
        "agency": "UZ Gent",
    },
]


class Hospitals:
    def __init__(self, h: Harness) -> None:
        everyone = [h.commander, h.admin]
        sim = h.sim
        self.duty_lille = sim.add_user(DUTY_LILLE, "Claire", language_code="fr")
        self.duty_charleroi = sim.add_user(DUTY_CHARLEROI, "Amélie", language_code="fr")
        self.duty_gent = sim.add_user(DUTY_GENT, "Wout", language_code="nl")
        self.lille = sim.add_chat(
            HOSPITAL_LILLE, "supergroup", title="CHU Lille", members=[*everyone, self.duty_lille]
        )
        self.charleroi = sim.add_chat(
            HOSPITAL_CHARLEROI,
            "supergroup",
            title="GHdC",
            members=[*everyone, self.duty_charleroi],
        )
        self.gent = sim.add_chat(
            HOSPITAL_GENT, "supergroup", title="UZ Gent", members=[*everyone, self.duty_gent]
        )


def _harness(sim: TelegramSimulator, tmp_path: Path, **requests_settings: object) -> Harness:
    chats = settings_data(tmp_path / "x.db", agencies=True)["chats"] + HOSPITAL_CHATS
    return Harness(
        sim,
        tmp_path / "capacity.db",
        agencies=True,
        chats=chats,
        requests=requests_settings,
        roster={"rollcall_time": ""},
    )


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    running = _harness(sim, tmp_path, extra_offers=2)
    running.hospitals = Hospitals(running)  # type: ignore[attr-defined]
    await running.start()
    await roster_csv.import_roster(running.runtime.db, ROSTER)
    yield running
    await running.stop()


def _hospitals(h: Harness) -> Hospitals:
    found: Hospitals = h.hospitals  # type: ignore[attr-defined]
    return found


async def _located_incident(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Explosion, gare de triage de Tournai")
    await h.sim.send_location(h.commander, h.ops, *RAIL_YARD, reply_to=h.card(h.ops))
    await h.settle()


def _open_offers(h: Harness, chat: SimChat) -> list[SimMessage]:
    """Offer messages that still carry a Commit button."""
    return [
        m
        for m in h.sim.bot_messages(chat)
        if any(d.startswith("r1:") and d.endswith(":c") for d in m.callback_data)
    ]


def _offer_id(message: SimMessage) -> int:
    press = parse_offer_press(message.callback_data[0])
    assert press is not None
    return press[0]


async def _press_together(
    h: Harness, presses: list[tuple[SimUser, SimChat, int, str]]
) -> list[str]:
    """Several people press at the same instant (the updates queue together)."""
    queries = await asyncio.gather(
        *(h.sim.press(user, chat, message, data) for user, chat, message, data in presses)
    )
    await h.settle()
    return list(queries)


async def test_beds_are_committed_by_the_count_and_never_beyond_capacity(h: Harness) -> None:
    hs = _hospitals(h)
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 3 lits grands brûlés")
    # every burns centre in reach is asked for what is needed, at most what it has free
    lille, charleroi, gent = (
        _open_offers(h, hs.lille),
        _open_offers(h, hs.charleroi),
        _open_offers(h, hs.gent),
    )
    assert len(lille) == len(charleroi) == len(gent) == 1
    text = lille[0].text or ""
    assert "FR-CHU-LILLE-BRULES" in text and "6 / 6" in text
    assert FR("you may commit fewer") in text
    # Lille was asked 3 of 6: "3", and fewer ("1", "2")
    labels = [b for row in lille[0].buttons for b in row]
    assert any(label.endswith(" 3") for label in labels) and "✅ 1" in labels
    assert "2 / 2" in (charleroi[0].text or "") and "2 / 2" in (gent[0].text or "")
    assert NL("you may commit fewer") in (gent[0].text or "")
    # the three press at the same instant: Lille commits 2 of the 3 asked, the others all
    # they were asked (2 each): only 3 beds are needed, and none is taken twice
    queries = await _press_together(
        h,
        [
            (hs.duty_lille, hs.lille, lille[0].message_id, offer_data(_offer_id(lille[0]), "c2")),
            (
                hs.duty_charleroi,
                hs.charleroi,
                charleroi[0].message_id,
                charleroi[0].callback_data[0],
            ),
            (hs.duty_gent, hs.gent, gent[0].message_id, gent[0].callback_data[0]),
        ],
    )
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None
    assert request.status is RequestStatus.FILLED and request.committed == 3
    engaged = {o.unit.code: o.amount for o in request.offers if o.status.engaged}
    assert sum(engaged.values()) == 3
    assert engaged["FR-CHU-LILLE-BRULES"] == 2  # pressed first: 2, as chosen
    # what each facility has free is its total less what it committed
    for unit in await resources.roster(h.runtime.db):
        if unit.counted:
            assert unit.free == unit.capacity - engaged.get(unit.code, 0), unit.code
            assert unit.free is not None and unit.free >= 0
    answers = h.sim.callback_answers
    refused = [q for q in queries if answers[q].show_alert]
    assert len(refused) <= 1  # the last one found the request filled (or took what was left)
    # the roster shows free / total and who holds what
    await h.say(h.commander, h.ops, "/roster lits grands brûlés")
    listing = h.last_text(h.ops)
    assert "4 / 6" in listing and FR("#{ref} holds {n}").format(ref=1, n=2) in listing
    # the request card names the places each committed
    card = h.sim.message(h.ops, await _card_id(h, 1)).text or ""
    assert "FR-CHU-LILLE-BRULES" in card and FR("{n} places").format(n=2) in card


async def _card_id(h: Harness, number: int) -> int:
    async with h.runtime.db.read() as tx:
        state = await requests.card_state(tx, number)
    assert state is not None and state[1]["card_message_id"] is not None
    return int(state[1]["card_message_id"])


async def test_two_incidents_never_take_more_beds_than_are_free(h: Harness) -> None:
    """Two commanders ask for the same beds at once: the facility's count never goes below
    zero, whichever press comes first."""
    hs = _hospitals(h)
    await _located_incident(h)
    await h.say(h.commander, h.ops_en, "/incident Fire at the Mouscron depot")
    await h.sim.send_location(h.commander, h.ops_en, 50.7444, 3.2064, reply_to=h.card(h.ops_en))
    await h.settle()
    await h.say(h.commander, h.ops, "/request #1 6 lits grands brûlés")
    await h.say(h.commander, h.ops_en, "/request #2 6 burns bed")
    lille = _open_offers(h, hs.lille)
    assert len(lille) == 2
    await _press_together(
        h, [(hs.duty_lille, hs.lille, m.message_id, m.callback_data[0]) for m in lille]
    )
    unit = await resources.get_unit(h.runtime.db, "FR-CHU-LILLE-BRULES")
    assert unit is not None and unit.free == 0
    first = await requests.get_request(h.runtime.db, 1)
    second = await requests.get_request(h.runtime.db, 2)
    assert first is not None and second is not None
    taken = [
        o.amount
        for r in (first, second)
        for o in r.offers
        if o.status.engaged and o.unit.code == "FR-CHU-LILLE-BRULES"
    ]
    assert sum(taken) == 6 and len(taken) == 1
    # the Lille offer that lost says so (no buttons left); nobody can press it again
    assert _open_offers(h, hs.lille) == []


async def test_bad_counts_get_clear_answers(h: Harness) -> None:
    hs = _hospitals(h)
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 0 lits grands brûlés")
    assert FR("Ask for 1 to {limit} at a time.").format(limit=50) in h.last_text(h.ops)
    await h.say(hs.duty_lille, hs.lille, "/unit FR-CHU-LILLE-BRULES free 7/6")
    assert FR("{free} free is more than the {total} places there are.").format(
        free=7, total=6
    ) in h.last_text(hs.lille)
    await h.say(hs.duty_lille, hs.lille, "/unit FR-CHU-LILLE-BRULES free 0/0")
    assert FR("A total of places must be between 1 and {limit}.").split("{")[0] in h.last_text(
        hs.lille
    )
    await h.say(hs.duty_lille, hs.lille, "/unit FR-CHU-LILLE-BRULES free -1")
    assert FR("Usage: /unit <code> free <n>[/<total>], for example 4/6") in h.last_text(hs.lille)
    # another hospital's beds are not Lille's to count
    await h.say(hs.duty_lille, hs.lille, "/unit BE-UZGENT-BRW free 1")
    assert "UZ Gent" in h.last_text(hs.lille)
    unit = await resources.get_unit(h.runtime.db, "BE-UZGENT-BRW")
    assert unit is not None and unit.free == 2
    # a count of zero: nothing is offered from Lille; 20 beds: more than exist on both sides
    await h.say(hs.duty_lille, hs.lille, "/unit FR-CHU-LILLE-BRULES free 0/6")
    assert "0 / 6" in h.last_text(hs.lille)
    await h.say(h.commander, h.ops, "/request 20 lits grands brûlés")
    assert _open_offers(h, hs.lille) == []
    request = await requests.get_request(h.runtime.db, 1)
    assert request is not None and request.status is RequestStatus.OPEN
    # a commitment of more places than asked is refused, nothing changes
    gent = _open_offers(h, hs.gent)
    query = await h.press(
        hs.duty_gent, hs.gent, gent[0], offer_data(_offer_id(gent[0]), "c9"), forged=True
    )
    assert h.sim.callback_answers[query].show_alert
    unit = await resources.get_unit(h.runtime.db, "BE-UZGENT-BRW")
    assert unit is not None and unit.free == 2


async def test_offers_close_when_cancelled_and_a_late_press_is_refused(h: Harness) -> None:
    hs = _hospitals(h)
    await _located_incident(h)
    await h.say(h.commander, h.ops, "/request 2 lits grands brûlés")
    gent = _open_offers(h, hs.gent)
    late = (gent[0].message_id, gent[0].callback_data[0])
    await h.say(h.commander, h.ops, "/cancel")
    for chat in (hs.lille, hs.charleroi, hs.gent):
        assert _open_offers(h, chat) == [], chat.title
    closed = h.sim.message(hs.gent, late[0])
    assert NL("The request was cancelled.") in (closed.text or "")
    assert FR("The request was cancelled.") not in (closed.text or "")
    query = await h.sim.press(hs.duty_gent, hs.gent, *late, forged=True)
    await h.settle()
    answer = h.sim.callback_answers[query]
    assert answer.show_alert and NL("The request was cancelled.") in (answer.text or "")
    unit = await resources.get_unit(h.runtime.db, "BE-UZGENT-BRW")
    assert unit is not None and unit.free == 2


async def test_a_recall_reopens_the_request_for_the_next_nearest(
    sim: TelegramSimulator, tmp_path: Path
) -> None:
    h = _harness(sim, tmp_path, extra_offers=0)
    hs = Hospitals(h)
    await h.start()
    try:
        await roster_csv.import_roster(h.runtime.db, ROSTER)
        await _located_incident(h)
        await h.say(h.commander, h.ops, "/request 2 lits grands brûlés")
        # only the nearest (Lille, 2 of 6) is asked; it commits both
        assert _open_offers(h, hs.charleroi) == [] and _open_offers(h, hs.gent) == []
        lille = _open_offers(h, hs.lille)
        await h.press(hs.duty_lille, hs.lille, lille[0], lille[0].callback_data[0])
        request = await requests.get_request(h.runtime.db, 1)
        assert request is not None and request.status is RequestStatus.FILLED
        # the committed offer carries a Recall button; it asks for a reason first
        pressed = h.sim.message(hs.lille, lille[0].message_id)
        offer_id = _offer_id(lille[0])
        assert offer_data(offer_id, "r") in pressed.callback_data
        await h.press(hs.duty_lille, hs.lille, pressed, offer_data(offer_id, "r"))
        pressed = h.sim.message(hs.lille, lille[0].message_id)
        assert offer_data(offer_id, "rn") in pressed.callback_data
        request = await requests.get_request(h.runtime.db, 1)
        assert request is not None and request.status is RequestStatus.FILLED  # not yet
        # another hospital cannot recall Lille's beds
        await h.say(hs.duty_gent, hs.gent, "/unit FR-CHU-LILLE-BRULES recall test")
        assert "CHU de Lille" in h.last_text(hs.gent)
        # Lille recalls with a reason: the commander is told, the request reopens, and the
        # next nearest centre is asked for what is now missing
        await h.say(hs.duty_lille, hs.lille, "/unit FR-CHU-LILLE-BRULES recall afflux local")
        assert h.last_text(hs.lille).startswith("↩️")
        request = await requests.get_request(h.runtime.db, 1)
        assert request is not None
        assert request.status is RequestStatus.OPEN and request.committed == 0
        recalled = [o for o in request.offers if o.status is OfferStatus.RECALLED]
        assert len(recalled) == 1 and recalled[0].recall_reason == "afflux local"
        unit = await resources.get_unit(h.runtime.db, "FR-CHU-LILLE-BRULES")
        assert unit is not None and unit.free == 6
        notices = [t for t in h.bot_texts(h.ops) if "afflux local" in t]
        assert notices and "FR-CHU-LILLE-BRULES" in notices[0]
        card = h.sim.message(h.ops, await _card_id(h, 1)).text or ""
        assert "afflux local" in card and FR("recalled {time} by {name}: {reason}")[:5] in card
        nxt = _open_offers(h, hs.gent) + _open_offers(h, hs.charleroi)
        assert len(nxt) == 1
        # the recalled offer lost its buttons
        assert h.sim.message(hs.lille, lille[0].message_id).callback_data == []
        # the next centre commits, then recalls with the button's reason (out of service)
        nxt_chat, nxt_user = (
            (hs.gent, hs.duty_gent)
            if _open_offers(h, hs.gent)
            else (hs.charleroi, hs.duty_charleroi)
        )
        offer = _open_offers(h, nxt_chat)[0]
        await h.press(nxt_user, nxt_chat, offer, offer.callback_data[0])
        await h.press(nxt_user, nxt_chat, offer, offer_data(_offer_id(offer), "r"))
        await h.press(nxt_user, nxt_chat, offer, offer_data(_offer_id(offer), "ro"))
        request = await requests.get_request(h.runtime.db, 1)
        assert request is not None and request.committed == 0
        reasons = [o.recall_reason for o in request.offers if o.status is OfferStatus.RECALLED]
        assert sorted(r or "" for r in reasons) == ["afflux local", "out of service"]
        card = h.sim.message(h.ops, await _card_id(h, 1)).text or ""
        assert FR("out of service") in card and NL("out of service") in card
    finally:
        await h.stop()


async def test_stale_availability_is_marked_in_offers_and_the_roster(
    sim: TelegramSimulator, tmp_path: Path
) -> None:
    chats = settings_data(tmp_path / "x.db", agencies=True)["chats"] + HOSPITAL_CHATS
    h = Harness(
        sim,
        tmp_path / "stale.db",
        agencies=True,
        chats=chats,
        requests={"extra_offers": 2},
        roster={"rollcall_time": "", "stale_after_hours": 0.001},  # 3.6 s
    )
    hs = Hospitals(h)
    await h.start()
    try:
        await roster_csv.import_roster(h.runtime.db, ROSTER)
        # Gent reports its count now; the others were last confirmed by the import
        await asyncio.sleep(4)
        await h.say(hs.duty_gent, hs.gent, "/unit BE-UZGENT-BRW free 2/2")
        await _located_incident(h)
        await h.say(h.commander, h.ops, "/request 2 lits grands brûlés")
        stale = FR("Availability out of date (last reported {time}): check before committing.")
        lille = _open_offers(h, hs.lille)[0].text or ""
        assert stale.split("(")[0] in lille
        gent = _open_offers(h, hs.gent)[0].text or ""
        assert NL(stale).split("(")[0] not in gent
        await h.say(h.commander, h.ops, "/roster burns_bed")
        listing = "\n".join(h.bot_texts(h.ops)[-2:])
        assert FR("availability out of date") in listing
    finally:
        await h.stop()
