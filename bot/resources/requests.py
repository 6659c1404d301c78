"""Resource requests across the border (EDXL-RM's lifecycle), the `requests` and
`request_offers` tables: a commander asks for a number of units of one type; the nearest
available units are offered to the agencies that own them; the first commitments fill the
request, race-safe in the database; declines and silence move on to the next units; units go
en route, on scene, and are released.

Each write takes the caller's unit of work. Messages to other chats (offers to agency chats,
notices to the incident chat and to the liaison chats of both countries) are queued in the
outbox in that unit; the request card and the incident's cards are touched, and the offers'
time-outs recorded, as its effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.config import RequestSettings
from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.directory import ensure_person, liaison_chats
from bot.core.effects import Live, LiveKind
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import (
    Author,
    Chat,
    Country,
    Incident,
    Offer,
    OfferStatus,
    Person,
    PersonRef,
    RequestStatus,
    ResourceRequest,
    ResourceType,
    Unit,
    UnitStatus,
)
from bot.core.vocabulary import fold
from bot.delivery.outbox import enqueue
from bot.geo.distance import bounding_box, distance_km, eta_minutes
from bot.incidents import cards
from bot.incidents.service import incident_in
from bot.render import requests as view
from bot.render.keyboards import offer_keyboard
from bot.resources import units
from bot.resources.units import (
    agency_chats,
    chats_of,
    cut_off_agencies,
    may_manage,
    unit_from_row,
)

MAX_QUANTITY = 50
MAX_NOTE = 300
ENGAGED = (OfferStatus.COMMITTED.value, OfferStatus.EN_ROUTE.value, OfferStatus.ON_SCENE.value)


@dataclass(frozen=True)
class OfferAnswer:
    """The state of an offer after a press, and why the press changed nothing (a msgid)."""

    offer: Offer
    request: ResourceRequest
    incident: Incident
    refusal: str | None = None


# --- ranking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    distance_km: float
    eta_minutes: int


def rank(
    candidates: Iterable[Unit], lat: float, lon: float, settings: RequestSettings
) -> list[Candidate]:
    """Available units within reach, nearest first (great-circle), ties by code."""
    ranked = []
    for unit in candidates:
        if unit.status is not UnitStatus.AVAILABLE:
            continue
        if unit.free is not None and unit.free <= 0:
            continue  # a facility with no free place
        distance = distance_km(lat, lon, unit.lat, unit.lon)
        if distance > settings.max_distance_km:
            continue
        eta = eta_minutes(distance, settings.road_speed_kmh, settings.road_factor)
        ranked.append(Candidate(unit, distance, eta))
    ranked.sort(key=lambda c: (c.distance_km, c.unit.code))
    return ranked


def crossing(unit_country: Country, incident_country: Country) -> bool:
    return unit_country is not incident_country


# --- reading --------------------------------------------------------------------------------

_REQUEST_SELECT = """
SELECT r.*, i.title AS incident_title, i.country AS incident_country, i.exercise,
       p.name AS requested_by_name
FROM requests r
JOIN incidents i ON i.id = r.incident_id
LEFT JOIN people p ON p.id = r.requested_by
"""


def _time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


async def _offers(tx: Tx, where: str, params: Sequence[object]) -> list[Offer]:
    rows = await tx.all(
        "SELECT o.*, u.id AS u_id FROM request_offers o JOIN units u ON u.id = o.unit_id"
        f" WHERE {where} ORDER BY o.distance_km, o.id",
        params,
    )
    offers = []
    for row in rows:
        unit_row = await tx.one(
            "SELECT *, NULL AS deployment FROM units WHERE id = ?", (row["u_id"],)
        )
        assert unit_row is not None
        offers.append(_offer(row, unit_from_row(unit_row)))
    return offers


def _offer(row: Row, unit: Unit) -> Offer:
    return Offer(
        id=row["id"],
        request_id=row["request_id"],
        unit=unit,
        distance_km=row["distance_km"],
        eta_minutes=row["eta_minutes"],
        amount=row["amount"],
        status=OfferStatus(row["status"]),
        asked=row["asked"],
        recalled_at=_time(row["recalled_at"]),
        recall_reason=row["recall_reason"],
        offered_at=from_db_time(row["offered_at"]),
        expires_at=from_db_time(row["expires_at"]),
        decided_at=_time(row["decided_at"]),
        decided_by=row["decided_by"],
        en_route_at=_time(row["en_route_at"]),
        on_scene_at=_time(row["on_scene_at"]),
        released_at=_time(row["released_at"]),
    )


def _request(row: Row, offers: Sequence[Offer]) -> ResourceRequest:
    return ResourceRequest(
        id=row["id"],
        incident_ref=row["incident_id"],
        incident_title=row["incident_title"],
        incident_country=Country(row["incident_country"]),
        exercise=bool(row["exercise"]),
        chat_id=row["chat_id"],
        type=ResourceType(row["type"]),
        quantity=row["quantity"],
        committed=row["committed"],
        note=row["note"],
        status=RequestStatus(row["status"]),
        requested_by=PersonRef(id=row["requested_by"], name=row["requested_by_name"])
        if row["requested_by"]
        else None,
        created_at=from_db_time(row["created_at"]),
        closed_at=_time(row["closed_at"]),
        offers=tuple(offers),
    )


async def request_in(tx: Tx, request_id: int) -> ResourceRequest | None:
    row = await tx.one(_REQUEST_SELECT + " WHERE r.id = ?", (request_id,))
    if row is None:
        return None
    return _request(row, await _offers(tx, "o.request_id = ?", (request_id,)))


async def get_request(db: Database, request_id: int) -> ResourceRequest | None:
    async with db.read() as tx:
        return await request_in(tx, request_id)


async def requests_of(tx: Tx, ref: int) -> list[ResourceRequest]:
    rows = await tx.all(_REQUEST_SELECT + " WHERE r.incident_id = ? ORDER BY r.id", (ref,))
    return [_request(row, await _offers(tx, "o.request_id = ?", (row["id"],))) for row in rows]


async def offer_in(tx: Tx, offer_id: int) -> tuple[Offer, ResourceRequest, Incident] | None:
    row = await tx.one("SELECT request_id FROM request_offers WHERE id = ?", (offer_id,))
    if row is None:
        return None
    request = await request_in(tx, row["request_id"])
    assert request is not None
    incident = await incident_in(tx, request.incident_ref)
    assert incident is not None
    offer = next(o for o in request.offers if o.id == offer_id)
    return offer, request, incident


async def get_offer(db: Database, offer_id: int) -> tuple[Offer, ResourceRequest, Incident] | None:
    async with db.read() as tx:
        return await offer_in(tx, offer_id)


async def pending_expiries(db: Database) -> list[datetime]:
    """When unanswered offers time out (some may be overdue already: after a restart)."""
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT DISTINCT expires_at FROM request_offers WHERE status = ? ORDER BY expires_at",
            (OfferStatus.OFFERED.value,),
        )
    return [from_db_time(row["expires_at"]) for row in rows]


async def latest_open_request(db: Database, ref: int) -> ResourceRequest | None:
    async with db.read() as tx:
        row = await tx.one(
            "SELECT id FROM requests WHERE incident_id = ? AND status IN (?, ?)"
            " ORDER BY id DESC LIMIT 1",
            (ref, RequestStatus.OPEN.value, RequestStatus.WAITING_LOCATION.value),
        )
        return await request_in(tx, row["id"]) if row else None


async def involved_countries_in(tx: Tx, incident: Incident) -> list[Country]:
    """Countries beyond the incident's own whose units were committed to it."""
    rows = await tx.all(
        "SELECT DISTINCT u.country FROM request_offers o JOIN requests r ON r.id = o.request_id"
        " JOIN units u ON u.id = o.unit_id WHERE r.incident_id = ?"
        " AND o.status IN ('committed', 'en_route', 'on_scene', 'released')",
        (incident.ref,),
    )
    return [Country(r["country"]) for r in rows if r["country"] != incident.country.value]


async def crossing_agencies_in(tx: Tx, incident: Incident) -> list[str]:
    """Agencies of the other country whose units were committed to the incident."""
    rows = await tx.all(
        "SELECT DISTINCT u.agency FROM request_offers o JOIN requests r ON r.id = o.request_id"
        " JOIN units u ON u.id = o.unit_id WHERE r.incident_id = ? AND u.country != ?"
        " AND o.status IN ('committed', 'en_route', 'on_scene', 'released') ORDER BY u.agency",
        (incident.ref, incident.country.value),
    )
    return [r["agency"] for r in rows]


# --- writing helpers ------------------------------------------------------------------------


async def _touch(unit: UnitOfWork, request: ResourceRequest) -> None:
    """The request card and every card of its incident show the change."""
    await unit.execute("UPDATE requests SET version = version + 1 WHERE id = ?", (request.id,))
    await cards.bump(unit, request.incident_ref)
    unit.effects.touch(Live(LiveKind.REQUEST, request.id, request.chat_id))


async def _reload(tx: Tx, request_id: int) -> ResourceRequest:
    request = await request_in(tx, request_id)
    assert request is not None
    return request


async def _agency_chats_for(tx: Tx, agency: str) -> list[Chat]:
    return chats_of(await agency_chats(tx), agency)


async def _in_range(
    tx: Tx, request: ResourceRequest, incident: Incident, settings: RequestSettings
) -> tuple[list[Candidate], list[Candidate]]:
    """Available units of the type within reach that were not asked yet, nearest first:
    those whose agency has a chat Passerelle can reach (they can be asked), and the others
    (a liaison has to phone them)."""
    assert incident.lat is not None and incident.lon is not None
    low_lat, high_lat, low_lon, high_lon = bounding_box(
        incident.lat, incident.lon, settings.max_distance_km
    )
    rows = await tx.all(
        "SELECT u.*, NULL AS deployment FROM units u WHERE u.type = ? AND u.status = ?"
        " AND (u.free IS NULL OR u.free > 0) AND u.lat BETWEEN ? AND ? AND u.lon BETWEEN ? AND ?"
        " AND NOT EXISTS (SELECT 1 FROM request_offers o"
        "                 WHERE o.request_id = ? AND o.unit_id = u.id)",
        (
            request.type.value,
            UnitStatus.AVAILABLE.value,
            low_lat,
            high_lat,
            low_lon,
            high_lon,
            request.id,
        ),
    )
    # a unit whose agency has no chat here cannot be asked (the agencies folded once)
    reachable = {fold(chat.agency) for chat in await agency_chats(tx) if chat.agency}
    ranked = rank([unit_from_row(row) for row in rows], incident.lat, incident.lon, settings)
    return (
        [c for c in ranked if fold(c.unit.agency) in reachable],
        [c for c in ranked if fold(c.unit.agency) not in reachable],
    )


def _share(unit: Unit, asked: int) -> int:
    """How much of a request one unit asked would cover: a facility the places asked of it,
    a vehicle its capacity."""
    return asked if unit.counted else unit.capacity


def _units_to_cover(capacities: Sequence[int], need: int) -> int:
    """How many of these (largest first) it takes to cover `need`; all of them if they cannot."""
    covered = 0
    for count, capacity in enumerate(sorted(capacities, reverse=True), start=1):
        covered += capacity
        if covered >= need:
            return count
    return len(capacities)


async def _top_up(
    unit: UnitOfWork, request_id: int, settings: RequestSettings, acting_chat: int | None
) -> None:
    """Keep enough units asked: those it takes to cover what is still needed, plus
    `extra_offers`. When nobody is left to ask, the request is not filled: say so."""
    request = await _reload(unit, request_id)
    if request.status is not RequestStatus.OPEN:
        return
    need = request.quantity - request.committed
    if need <= 0:
        await _fill(unit, request, acting_chat)
        return
    incident = await incident_in(unit, request.incident_ref)
    assert incident is not None
    # what each unit asked would cover: a vehicle its capacity, a facility the places asked
    pending = [_share(o.unit, o.asked) for o in request.offers if o.status is OfferStatus.OFFERED]
    candidates, unreachable = await _in_range(unit, request, incident, settings)
    chosen: list[tuple[Candidate, int]] = []
    for candidate in candidates:
        capacities = pending + [_share(c.unit, places) for c, places in chosen]
        covered = sum(min(c, need) for c in capacities)
        target = _units_to_cover(capacities, need) + settings.extra_offers
        if covered >= need and len(capacities) >= target:
            break
        # a facility is asked for what is needed, at most what it has free (2 of 6)
        places = min(candidate.unit.free, need) if candidate.unit.free is not None else 0
        chosen.append((candidate, places))
    now = utcnow()
    expires = now + timedelta(minutes=settings.offer_timeout_minutes)
    for candidate, places in chosen:
        offer_id = await unit.execute(
            "INSERT INTO request_offers (request_id, unit_id, distance_km, eta_minutes, amount,"
            " asked, status, offered_at, expires_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (
                request.id,
                candidate.unit.id,
                round(candidate.distance_km, 2),
                candidate.eta_minutes,
                places,
                OfferStatus.OFFERED.value,
                to_db_time(now),
                to_db_time(expires),
            ),
        )
        await _send_offer(unit, offer_id, settings.stale_after_hours)
    if chosen:
        unit.effects.expiries.add(expires)
    if pending or chosen:
        # still open: units nearer than the farthest one asked, which would have been asked
        # had their agency a chat here, are named on the card now and the liaisons told
        farthest = max(
            [o.distance_km for o in request.offers if o.status is OfferStatus.OFFERED]
            + [c.distance_km for c, _places in chosen]
        )
        passed_over = [c for c in unreachable if c.distance_km <= farthest]
        if passed_over:
            await _record_unreachable(unit, request.id, passed_over, now)
            request = await _reload(unit, request.id)
            await _tell_liaisons_unreachable(unit, request, incident)
    else:
        # nobody left to ask; units in reach whose agency cannot be reached are named on
        # the card, and the liaisons told, so that someone phones them
        await _record_unreachable(unit, request.id, unreachable, now)
        await unit.execute(
            "UPDATE requests SET status = ?, closed_at = ? WHERE id = ?",
            (RequestStatus.UNFILLED.value, to_db_time(now), request.id),
        )
        request = await _reload(unit, request.id)
        if unreachable:
            await _tell_liaisons_unreachable(unit, request, incident)
        if acting_chat != request.chat_id:
            await _notify_request_chat(unit, request, "unfilled")
    await _touch(unit, request)


async def _record_unreachable(
    unit: UnitOfWork, request_id: int, candidates: Sequence[Candidate], now: datetime
) -> None:
    """Units in reach not asked, their agency having no chat Passerelle can reach: kept with
    the request (never asked later in it) for the card and the liaisons' notice."""
    for candidate in candidates:
        await unit.execute(
            "INSERT INTO request_offers (request_id, unit_id, distance_km, eta_minutes,"
            " amount, status, offered_at, expires_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
            (
                request_id,
                candidate.unit.id,
                round(candidate.distance_km, 2),
                candidate.eta_minutes,
                OfferStatus.UNREACHABLE.value,
                to_db_time(now),
                to_db_time(now),
            ),
        )


async def _send_offer(unit: UnitOfWork, offer_id: int, stale_after_hours: float) -> None:
    found = await offer_in(unit, offer_id)
    assert found is not None
    offer, request, incident = found
    for chat in await _agency_chats_for(unit, offer.unit.agency):
        # kept, to edit the message when the offer closes (filled, cancelled, timed out)
        await unit.execute(
            "INSERT INTO offer_messages (offer_id, chat_id, shown_version) VALUES (?, ?, 1)"
            " ON CONFLICT (offer_id, chat_id) DO NOTHING",
            (offer.id, chat.id),
        )
        await enqueue(
            unit,
            chat_id=chat.id,
            html=view.render_offer(
                offer,
                request,
                incident,
                chat.languages,
                chat.timezone,
                stale_after_hours=stale_after_hours,
                now=utcnow(),
            ),
            purpose="offer",
            reply_markup=offer_keyboard(offer, chat.languages),
            subject_id=offer.id,
            key=f"offer:{offer.id}:{chat.id}",
        )


async def _tell_liaisons_unreachable(
    unit: UnitOfWork, request: ResourceRequest, incident: Incident
) -> None:
    """Units in reach were not asked (their agency has no chat Passerelle can reach): nearer
    ones than those asked, or any once the request could not be filled. The liaison chats of
    the countries concerned are told who they are, to phone them."""
    unreached = [o for o in request.offers if o.status is OfferStatus.UNREACHABLE]
    countries = {incident.country, *(o.unit.country for o in unreached)}
    cut_off = await cut_off_agencies(unit)
    blocked = frozenset(o.unit.agency for o in unreached if fold(o.unit.agency) in cut_off)
    for chat in await liaison_chats(unit):
        if chat.country not in countries:
            continue
        await enqueue(
            unit,
            chat_id=chat.id,
            html=view.render_unreachable(request, incident, blocked, chat.languages, chat.timezone),
            purpose="unreachable",
            incident_ref=incident.ref,
            subject_id=request.id,
            # told again when more units were passed over (the request ended unfilled)
            key=f"unreachable:{request.id}:{len(unreached)}:{chat.id}",
        )


async def _notify_request_chat(unit: UnitOfWork, request: ResourceRequest, what: str) -> None:
    row = await unit.one(
        "SELECT * FROM chats WHERE id = ? AND unreachable_at IS NULL", (request.chat_id,)
    )
    if row is None:
        return
    languages = tuple(row["languages"].split(","))
    await enqueue(
        unit,
        chat_id=request.chat_id,
        html=view.render_request_notice(request, what, languages, row["timezone"]),
        purpose="request",
        incident_ref=request.incident_ref,
        subject_id=request.id,
        key=f"{what}:{request.id}",
    )


async def _fill(unit: UnitOfWork, request: ResourceRequest, acting_chat: int | None) -> None:
    now = to_db_time(utcnow())
    await unit.execute(
        "UPDATE requests SET status = ?, closed_at = ? WHERE id = ? AND status = ?",
        (RequestStatus.FILLED.value, now, request.id, RequestStatus.OPEN.value),
    )
    # the other agencies need not answer any more: their offers say so, without buttons
    rows = await unit.all(
        "UPDATE request_offers SET status = ?, decided_at = ? WHERE request_id = ? AND status = ?"
        " RETURNING id",
        (OfferStatus.WITHDRAWN.value, now, request.id, OfferStatus.OFFERED.value),
    )
    await closed(unit, [row["id"] for row in rows])
    request = await _reload(unit, request.id)
    if acting_chat != request.chat_id:
        await _notify_request_chat(unit, request, "filled")
    await _touch(unit, request)


# --- the commander's side -------------------------------------------------------------------


def check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise UserError(N_("Ask for 1 to {limit} at a time."), limit=MAX_QUANTITY)


async def create(
    unit: UnitOfWork,
    *,
    ref: int,
    type_: ResourceType,
    quantity: int,
    note: str | None,
    author: Author,
    chat_id: int,
    settings: RequestSettings,
) -> ResourceRequest:
    """/request: asked now if the incident has a location, else once it has one."""
    check_quantity(quantity)
    if note is not None and len(note) > MAX_NOTE:
        raise UserError(N_("That is too long: at most {limit} characters."), limit=MAX_NOTE)
    incident = await incident_in(unit, ref)
    if incident is None or not incident.is_open:
        raise UserError(N_("There is no open incident #{ref}."), ref=ref)
    await ensure_person(unit, author.id, author.name, author.username)
    located = incident.lat is not None and incident.lon is not None
    status = RequestStatus.OPEN if located else RequestStatus.WAITING_LOCATION
    request_id = await unit.execute(
        "INSERT INTO requests (incident_id, chat_id, type, quantity, note, status,"
        " requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ref, chat_id, type_.value, quantity, note, status.value, author.id, to_db_time(utcnow())),
    )
    if located:
        await _top_up(unit, request_id, settings, chat_id)
    else:
        await _touch(unit, await _reload(unit, request_id))
    return await _reload(unit, request_id)


async def open_waiting(
    unit: UnitOfWork, *, ref: int, settings: RequestSettings, chat_id: int | None
) -> None:
    """The incident has a location now: ask for what was waiting for it."""
    incident = await incident_in(unit, ref)
    if incident is None or not incident.is_open or incident.lat is None or incident.lon is None:
        return
    rows = await unit.all(
        "UPDATE requests SET status = ? WHERE incident_id = ? AND status = ? RETURNING id",
        (RequestStatus.OPEN.value, ref, RequestStatus.WAITING_LOCATION.value),
    )
    for request_id in sorted(row["id"] for row in rows):
        await _top_up(unit, request_id, settings, chat_id)


async def waiting_for_location_in(tx: Tx, request_id: int) -> bool:
    row = await tx.one(
        "SELECT 1 FROM requests WHERE id = ? AND status = ?",
        (request_id, RequestStatus.WAITING_LOCATION.value),
    )
    return row is not None


async def release(unit: UnitOfWork, *, ref: int, code: str, author: Author, chat_id: int) -> Offer:
    """/release <code>: the unit leaves the incident and is available again."""
    offers = await _offers(
        unit,
        "u.code = ? AND o.status IN (?, ?, ?)"
        " AND o.request_id IN (SELECT id FROM requests WHERE incident_id = ?)",
        (code.strip().upper(), *ENGAGED, ref),
    )
    if not offers:
        raise UserError(N_("{code} is not committed to incident #{ref}."), code=code, ref=ref)
    return await _release(unit, offers[0], author.name)


async def _release(unit: UnitOfWork, offer: Offer, by: str) -> Offer:
    """The unit leaves the incident; its agency is told."""
    now = to_db_time(utcnow())
    await unit.execute(
        "UPDATE request_offers SET status = ?, released_at = ? WHERE id = ?",
        (OfferStatus.RELEASED.value, now, offer.id),
    )
    if offer.unit.counted:
        await units.give_places(unit, offer.unit.id, offer.amount)
    else:
        await units.free(unit, offer.unit.id, by)
    await closed(unit, [offer.id])
    found = await offer_in(unit, offer.id)
    assert found is not None
    released, request, incident = found
    for chat in await _agency_chats_for(unit, released.unit.agency):
        await enqueue(
            unit,
            chat_id=chat.id,
            html=view.render_offer(released, request, incident, chat.languages, chat.timezone),
            purpose="release",
            subject_id=released.id,
            key=f"released:{released.id}:{chat.id}",
        )
    await _touch(unit, request)
    return released


async def recall_choice(
    unit: UnitOfWork, *, offer_id: int, person: Person, chat: Chat | None
) -> OfferAnswer:
    """The Recall button: only the unit's own agency may, and only while it is committed
    (the reasons are shown; nothing changes yet)."""
    offer, request, incident = await _agency_offer(
        unit,
        offer_id,
        person,
        chat,
        N_("{code} belongs to {agency}: only its own agency (or an admin) may recall it."),
    )
    refusal = None if offer.status.engaged else N_("This unit is not committed any more.")
    return OfferAnswer(offer, request, incident, refusal)


async def recall(
    unit: UnitOfWork,
    *,
    reason: str,
    person: Person,
    chat: Chat | None,
    settings: RequestSettings,
    code: str | None = None,
    offer_id: int | None = None,
    ref: int | None = None,
) -> OfferAnswer:
    """/unit <code> [#ref] recall <reason> and the Recall button: an agency takes back its own
    committed unit (or a facility's places). The request's count drops, the commander is
    told, and the request reopens for what is now missing, offered to the next nearest."""
    reason = " ".join(reason.split())
    if not reason:
        raise UserError(N_("Say why: /unit <code> recall <reason>."))
    if len(reason) > MAX_NOTE:
        raise UserError(N_("That is too long: at most {limit} characters."), limit=MAX_NOTE)
    if offer_id is None:
        rows = await unit.all(
            "SELECT o.id, r.incident_id FROM request_offers o JOIN units u ON u.id = o.unit_id"
            " JOIN requests r ON r.id = o.request_id"
            " WHERE u.code = ? AND o.status IN (?, ?, ?) ORDER BY o.id DESC",
            ((code or "").strip().upper(), *ENGAGED),
        )
        if ref is not None:
            rows = [row for row in rows if row["incident_id"] == ref]
            if not rows:
                raise UserError(
                    N_("{code} is not committed to incident #{ref}."), code=code or "", ref=ref
                )
        if not rows:
            raise UserError(N_("{code} is not committed to any incident."), code=code or "")
        # the latest commitment (a facility holding places for several incidents: name one
        # with #ref)
        offer_id = int(rows[0]["id"])
    offer, request, incident = await _agency_offer(
        unit,
        offer_id,
        person,
        chat,
        N_("{code} belongs to {agency}: only its own agency (or an admin) may recall it."),
    )
    if not offer.status.engaged:
        return OfferAnswer(offer, request, incident, N_("This unit is not committed any more."))
    now = to_db_time(utcnow())
    await unit.execute(
        "UPDATE request_offers SET status = ?, recalled_at = ?, recall_reason = ?,"
        " decided_by = ? WHERE id = ? AND status IN (?, ?, ?)",
        (OfferStatus.RECALLED.value, now, reason, person.name, offer.id, *ENGAGED),
    )
    if offer.unit.counted:
        await units.give_places(unit, offer.unit.id, offer.amount)
    else:
        await units.free(unit, offer.unit.id, person.name)
    await unit.execute(
        "UPDATE requests SET committed = CASE WHEN committed > ? THEN committed - ? ELSE 0 END"
        " WHERE id = ?",
        (offer.amount, offer.amount, request.id),
    )
    await closed(unit, [offer.id])
    reopen = incident.is_open and request.status in (
        RequestStatus.OPEN,
        RequestStatus.FILLED,
        RequestStatus.UNFILLED,
    )
    if reopen and request.status is not RequestStatus.OPEN:
        await unit.execute(
            "UPDATE requests SET status = ?, closed_at = NULL WHERE id = ?",
            (RequestStatus.OPEN.value, request.id),
        )
    found = await offer_in(unit, offer.id)
    assert found is not None
    recalled, request, incident = found
    # the commander is told in the chat that asked (and the card shows it)
    row = await unit.one(
        "SELECT * FROM chats WHERE id = ? AND unreachable_at IS NULL", (request.chat_id,)
    )
    if row is not None:
        await enqueue(
            unit,
            chat_id=request.chat_id,
            html=view.render_recall(
                recalled,
                request,
                tuple(row["languages"].split(",")),
                row["timezone"],
                reopened=reopen,
            ),
            purpose="request",
            incident_ref=request.incident_ref,
            subject_id=request.id,
            key=f"recalled:{recalled.id}",
        )
    if reopen:
        await _top_up(unit, request.id, settings, chat.id if chat else None)
    await _touch(unit, await _reload(unit, request.id))
    found = await offer_in(unit, offer.id)
    assert found is not None
    return OfferAnswer(*found)


async def _end(unit: UnitOfWork, request: ResourceRequest, by: str) -> None:
    """Withdraw an open request: offers not answered are withdrawn, units it got released."""
    now = to_db_time(utcnow())
    if request.is_open:
        await unit.execute(
            "UPDATE requests SET status = ?, closed_at = ? WHERE id = ?",
            (RequestStatus.CANCELLED.value, now, request.id),
        )
        rows = await unit.all(
            "UPDATE request_offers SET status = ?, decided_at = ?"
            " WHERE request_id = ? AND status = ? RETURNING id",
            (OfferStatus.WITHDRAWN.value, now, request.id, OfferStatus.OFFERED.value),
        )
        await closed(unit, [row["id"] for row in rows])
    for offer in request.offers:
        if offer.status.engaged:
            await _release(unit, offer, by)
    await _touch(unit, await _reload(unit, request.id))


async def cancel(
    unit: UnitOfWork, *, ref: int, request_id: int | None, author: Author, chat_id: int
) -> ResourceRequest:
    """/cancel: withdraw an open request (the latest, or the one named); units it already
    got are released and their agencies told."""
    if request_id is None:
        row = await unit.one(
            "SELECT id FROM requests WHERE incident_id = ? AND status IN (?, ?)"
            " ORDER BY id DESC LIMIT 1",
            (ref, RequestStatus.OPEN.value, RequestStatus.WAITING_LOCATION.value),
        )
        if row is None:
            raise UserError(N_("Incident #{ref} has no open request."), ref=ref)
        request_id = int(row["id"])
    request = await request_in(unit, request_id)
    if request is None or request.incident_ref != ref:
        raise UserError(
            N_("There is no request {number} for incident #{ref}."), number=request_id, ref=ref
        )
    if not request.is_open:
        raise UserError(N_("Request {number} is no longer open."), number=request.id)
    await _end(unit, request, author.name)
    return await _reload(unit, request.id)


async def close_out(unit: UnitOfWork, *, ref: int, by: str) -> None:
    """The incident closed: its open requests end (offers withdrawn) and the units still
    committed to it are released, their agencies told."""
    rows = await unit.all(
        "SELECT r.id FROM requests r WHERE r.incident_id = ? AND (r.status IN (?, ?)"
        "  OR EXISTS (SELECT 1 FROM request_offers o WHERE o.request_id = r.id"
        "             AND o.status IN (?, ?, ?)))"
        " ORDER BY r.id",
        (ref, RequestStatus.OPEN.value, RequestStatus.WAITING_LOCATION.value, *ENGAGED),
    )
    for row in rows:
        await _end(unit, await _reload(unit, row["id"]), by)


# --- the agencies' side ---------------------------------------------------------------------


async def _agency_offer(
    tx: Tx, offer_id: int, person: Person, chat: Chat | None, refusal: str
) -> tuple[Offer, ResourceRequest, Incident]:
    """The offer a button or /unit acts on, if the unit's own agency (or an admin) acts."""
    found = await offer_in(tx, offer_id)
    if found is None:
        raise UserError(N_("This button is no longer valid."))
    offer = found[0]
    if not may_manage(person, chat, offer.unit.agency):
        raise UserError(refusal, code=offer.unit.code, agency=offer.unit.agency)
    return found


async def answer(
    unit: UnitOfWork,
    *,
    offer_id: int,
    commit: bool,
    person: Person,
    chat: Chat | None,
    settings: RequestSettings,
    places: int | None = None,
) -> OfferAnswer:
    """Commit or Decline, first come first served (a facility commits `places`, by default
    the places asked of it, or fewer). Race-safe: the unit is taken only if it
    is still available, and the request's count only grows while it stays within the
    quantity asked (conditional updates, in one transaction)."""
    offer, request, incident = await _agency_offer(
        unit,
        offer_id,
        person,
        chat,
        N_("{code} belongs to {agency}: only its own agency (or an admin) may answer."),
    )
    refusal = await _answer(unit, offer, request, incident, commit, person, chat, settings, places)
    found = await offer_in(unit, offer_id)
    assert found is not None
    return OfferAnswer(*found, refusal=refusal)


async def _answer(
    unit: UnitOfWork,
    offer: Offer,
    request: ResourceRequest,
    incident: Incident,
    commit: bool,
    person: Person,
    chat: Chat | None,
    settings: RequestSettings,
    places: int | None,
) -> str | None:
    acting_chat = chat.id if chat else None
    now = to_db_time(utcnow())
    if offer.status is not OfferStatus.OFFERED:
        if offer.status is OfferStatus.WITHDRAWN and request.status is RequestStatus.FILLED:
            return N_("The request is already filled: thank you, nothing more is needed.")
        if offer.status is OfferStatus.WITHDRAWN and request.status is RequestStatus.CANCELLED:
            return N_("The request was cancelled.")
        if offer.status is OfferStatus.EXPIRED:
            return N_("This offer timed out and went to the next unit.")
        if offer.status is OfferStatus.RECALLED:
            return N_("{code} was recalled by its agency.")
        return N_("This offer was already answered.")
    if not commit:
        await unit.execute(
            "UPDATE request_offers SET status = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ? AND status = ?",
            (OfferStatus.DECLINED.value, now, person.name, offer.id, OfferStatus.OFFERED.value),
        )
        await _top_up(unit, request.id, settings, acting_chat)
        return None
    if offer.unit.counted:
        amount = await _take_places(unit, offer, request, places)
        if amount == _BAD_COUNT:
            return _BAD_COUNT  # nothing changed: the offer stands
        if isinstance(amount, str):
            await _withdraw(unit, offer.id, now)
            if amount == _FILLED:
                await _touch(unit, request)
            else:
                await _top_up(unit, request.id, settings, acting_chat)
            return amount
    else:
        # 1. the unit, only if it is still available
        if not await units.commit_to(unit, offer.unit.id, incident.ref, person.name):
            await _withdraw(unit, offer.id, now)
            await _top_up(unit, request.id, settings, acting_chat)
            return N_(
                "{code} is no longer available: it was committed elsewhere or taken off duty."
            )
        # 2. a share of the request, only while it stays within the quantity asked
        row = await unit.one("SELECT quantity, committed FROM requests WHERE id = ?", (request.id,))
        assert row is not None
        amount = max(0, min(offer.unit.capacity, row["quantity"] - row["committed"]))
        counted = amount > 0 and await _count(unit, request.id, amount)
        if not counted:
            # filled (or cancelled) meanwhile: give the unit back
            await units.give_back(unit, offer.unit.id)
            await _withdraw(unit, offer.id, now)
            await _touch(unit, request)
            return _FILLED
    await unit.execute(
        "UPDATE request_offers SET status = ?, amount = ?, decided_at = ?, decided_by = ?"
        " WHERE id = ? AND status = ?",
        (
            OfferStatus.COMMITTED.value,
            amount,
            now,
            person.name,
            offer.id,
            OfferStatus.OFFERED.value,
        ),
    )
    if offer.unit.counted:
        # the facility's offers for other requests stand while it has places free
        found = await units.unit_by_id(unit, offer.unit.id)
        if found is not None and (found.free or 0) > 0:
            if crossing(offer.unit.country, incident.country):
                await _tell_liaisons(unit, offer.id)
            await _top_up(unit, request.id, settings, acting_chat)
            await _touch(unit, await _reload(unit, request.id))
            return None
    # the unit's other open offers (other requests) are moot now
    others = await unit.all(
        "SELECT id, request_id FROM request_offers WHERE unit_id = ? AND status = ? AND id != ?",
        (offer.unit.id, OfferStatus.OFFERED.value, offer.id),
    )
    for other in others:
        await _withdraw(unit, other["id"], now)
        await _top_up(unit, other["request_id"], settings, acting_chat)
    if crossing(offer.unit.country, incident.country):
        await _tell_liaisons(unit, offer.id)
    await _top_up(unit, request.id, settings, acting_chat)
    await _touch(unit, await _reload(unit, request.id))
    return None


_FILLED = N_("The request is already filled: thank you, nothing more is needed.")
_BAD_COUNT = N_("Commit between 1 and {count} places.")


async def _count(unit: UnitOfWork, request_id: int, amount: int) -> bool:
    """The request's count grows by `amount` only while it stays within the quantity asked
    (a conditional update: concurrent commitments never overfill it)."""
    changed = await unit.execute(
        "UPDATE requests SET committed = committed + ? WHERE id = ? AND status = ?"
        " AND committed + ? <= quantity",
        (amount, request_id, RequestStatus.OPEN.value, amount),
    )
    return changed > 0


async def _take_places(
    unit: UnitOfWork, offer: Offer, request: ResourceRequest, places: int | None
) -> int | str:
    """A facility commits `places` (or the places asked): at most what was asked, what the
    request still misses and what the facility has free. Returns the places taken, or why
    none were (a msgid). Both counts are guarded by conditional updates in this unit of
    work: concurrent presses never take more than the facility has free nor more than the
    request asked."""
    wanted = offer.asked if places is None else places
    if wanted < 1 or wanted > max(offer.asked, 1):
        return _BAD_COUNT
    row = await unit.one("SELECT quantity, committed FROM requests WHERE id = ?", (request.id,))
    assert row is not None
    amount = min(wanted, int(row["quantity"]) - int(row["committed"]))
    if amount <= 0:
        return _FILLED
    free = await unit.one("SELECT free, status FROM units WHERE id = ?", (offer.unit.id,))
    if free is None or free["status"] != UnitStatus.AVAILABLE.value or not free["free"]:
        return N_("{code} has no place free any more.")
    amount = min(amount, int(free["free"]))
    if not await units.take_places(unit, offer.unit.id, amount):
        return N_("{code} has no place free any more.")
    if not await _count(unit, request.id, amount):
        await units.give_places(unit, offer.unit.id, amount)
        return _FILLED
    return amount


async def _withdraw(unit: UnitOfWork, offer_id: int, now: str) -> None:
    changed = await unit.execute(
        "UPDATE request_offers SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
        (OfferStatus.WITHDRAWN.value, now, offer_id, OfferStatus.OFFERED.value),
    )
    if changed:
        await closed(unit, [offer_id])


async def closed(unit: UnitOfWork, offer_ids: Iterable[int]) -> None:
    """Offers that changed after they were sent (filled, cancelled, timed out, the unit gone
    elsewhere, released, recalled): their messages in the agency chats are edited to say so,
    in each chat's languages, without the buttons that no longer apply."""
    for offer_id in offer_ids:
        await unit.execute(
            "UPDATE request_offers SET version = version + 1 WHERE id = ?", (offer_id,)
        )
        rows = await unit.all(
            "SELECT chat_id FROM offer_messages WHERE offer_id = ? ORDER BY chat_id", (offer_id,)
        )
        for row in rows:
            unit.effects.touch(Live(LiveKind.OFFER, offer_id, row["chat_id"]))


async def _tell_liaisons(unit: UnitOfWork, offer_id: int) -> None:
    """A unit crossing the border: the liaison chats of both countries are told (the 2019
    arrangement requires that the authority on each side knows)."""
    found = await offer_in(unit, offer_id)
    assert found is not None
    offer, request, incident = found
    for chat in await liaison_chats(unit):
        if chat.country not in (offer.unit.country, incident.country):
            continue
        await enqueue(
            unit,
            chat_id=chat.id,
            html=view.render_crossing(offer, request, incident, chat.languages, chat.timezone),
            purpose="crossing",
            incident_ref=incident.ref,
            subject_id=offer.id,
            key=f"crossing:{offer.id}:{chat.id}",
        )


async def advance(
    unit: UnitOfWork,
    *,
    offer_id: int | None = None,
    code: str | None = None,
    to: OfferStatus,
    person: Person,
    chat: Chat | None,
) -> OfferAnswer:
    """A committed unit goes en route, then on scene (its own agency says so)."""
    if to not in (OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE):
        raise UserError(N_("This button is no longer valid."))
    if offer_id is None:
        rows = await unit.all(
            "SELECT o.id FROM request_offers o JOIN units u ON u.id = o.unit_id"
            " WHERE u.code = ? AND o.status IN (?, ?, ?)",
            ((code or "").strip().upper(), *ENGAGED),
        )
        if not rows:
            raise UserError(N_("{code} is not committed to any incident."), code=code or "")
        offer_id = int(rows[0]["id"])
    offer, request, _incident = await _agency_offer(
        unit,
        offer_id,
        person,
        chat,
        N_("{code} belongs to {agency}: only its own agency (or an admin) may change it."),
    )
    allowed = {
        OfferStatus.EN_ROUTE: (OfferStatus.COMMITTED,),
        OfferStatus.ON_SCENE: (OfferStatus.COMMITTED, OfferStatus.EN_ROUTE),
    }[to]
    refusal = None
    if offer.status not in allowed:
        refusal = N_("This unit is not on its way to the incident any more.")
    else:
        column = "en_route_at" if to is OfferStatus.EN_ROUTE else "on_scene_at"
        await unit.execute(
            f"UPDATE request_offers SET status = ?, {column} = ? WHERE id = ?",
            (to.value, to_db_time(utcnow()), offer.id),
        )
        await _touch(unit, request)
    found = await offer_in(unit, offer_id)
    assert found is not None
    return OfferAnswer(*found, refusal=refusal)


async def expire_overdue(
    unit: UnitOfWork, settings: RequestSettings, now: datetime | None = None
) -> None:
    """Offers nobody answered in time go to the next units (run by a job, and at start for
    what timed out while the bot was down)."""
    moment = to_db_time(now or utcnow())
    rows = await unit.all(
        "SELECT id, request_id FROM request_offers WHERE status = ? AND expires_at <= ?"
        " ORDER BY id",
        (OfferStatus.OFFERED.value, moment),
    )
    expired = []
    for row in rows:
        # the offer's status is its claim: an instance sweeping at the same time moves on
        # only the offers it changed itself
        if await unit.execute(
            "UPDATE request_offers SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
            (OfferStatus.EXPIRED.value, moment, row["id"], OfferStatus.OFFERED.value),
        ):
            expired.append(row)
    await closed(unit, [row["id"] for row in expired])
    for request_id in sorted({row["request_id"] for row in expired}):
        await _top_up(unit, request_id, settings, None)


# --- the incident card's resources ----------------------------------------------------------


async def resources_in(tx: Tx, ref: int) -> list[tuple[Offer, ResourceRequest]]:
    """Every unit committed to the incident (and released ones), with its request."""
    found = []
    for request in await requests_of(tx, ref):
        for offer in request.offers:
            if offer.status.engaged or offer.status is OfferStatus.RELEASED:
                found.append((offer, request))
    return found


async def open_requests_in(tx: Tx, ref: int) -> list[ResourceRequest]:
    return [r for r in await requests_of(tx, ref) if r.is_open]


# --- the request card -----------------------------------------------------------------------


async def card_state(tx: Tx, request_id: int) -> tuple[ResourceRequest, Row] | None:
    """The request, and its card's message id, version and shown version."""
    row = await tx.one(
        "SELECT card_message_id, version, shown_version FROM requests WHERE id = ?",
        (request_id,),
    )
    request = await request_in(tx, request_id)
    if row is None or request is None:
        return None
    return request, row


async def card_shown(unit: UnitOfWork, request_id: int, message_id: int, version: int) -> None:
    await unit.execute(
        "UPDATE requests SET card_message_id = ?,"
        " shown_version = CASE WHEN shown_version > ? THEN shown_version ELSE ? END"
        " WHERE id = ?",
        (message_id, version, version, request_id),
    )


async def cards_behind(tx: Tx) -> list[Live]:
    rows = await tx.all(
        "SELECT id, chat_id FROM requests WHERE shown_version < version ORDER BY id"
    )
    return [Live(LiveKind.REQUEST, row["id"], row["chat_id"]) for row in rows]


# --- offer messages in the agency chats (edited when the offer closes) ----------------------


async def offer_message(tx: Tx, offer_id: int, chat_id: int) -> tuple[Row, int] | None:
    """An offer's message in one agency chat (message id, shown version) and the offer's
    version; None before the outbox sent it."""
    row = await tx.one(
        "SELECT m.message_id, m.shown_version, o.version FROM offer_messages m"
        " JOIN request_offers o ON o.id = m.offer_id WHERE m.offer_id = ? AND m.chat_id = ?",
        (offer_id, chat_id),
    )
    if row is None or row["message_id"] is None:
        return None
    return row, int(row["version"])


async def offer_message_shown(
    unit: UnitOfWork, offer_id: int, chat_id: int, message_id: int, version: int
) -> None:
    await unit.execute(
        "UPDATE offer_messages SET message_id = ?,"
        " shown_version = CASE WHEN shown_version > ? THEN shown_version ELSE ? END"
        " WHERE offer_id = ? AND chat_id = ?",
        (message_id, version, version, offer_id, chat_id),
    )


async def offer_messages_behind(tx: Tx) -> list[Live]:
    rows = await tx.all(
        "SELECT m.offer_id, m.chat_id FROM offer_messages m"
        " JOIN request_offers o ON o.id = m.offer_id"
        " WHERE m.message_id IS NOT NULL AND m.shown_version < o.version"
        " ORDER BY m.offer_id, m.chat_id"
    )
    return [Live(LiveKind.OFFER, row["offer_id"], row["chat_id"]) for row in rows]


async def on_offer_delivered(unit: UnitOfWork, row: Row, message_id: int) -> None:
    """The outbox sent an offer: its message id is kept, and if the offer closed while the
    message waited its turn, the message is edited at once."""
    if row["subject_id"] is None:
        return
    await unit.execute(
        "UPDATE offer_messages SET message_id = ? WHERE offer_id = ? AND chat_id = ?",
        (message_id, row["subject_id"], row["chat_id"]),
    )
    found = await offer_message(unit, row["subject_id"], row["chat_id"])
    if found is not None and found[0]["shown_version"] < found[1]:
        unit.effects.touch(Live(LiveKind.OFFER, row["subject_id"], row["chat_id"]))


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its requests follow, their cards are posted there."""
    await unit.execute(
        "UPDATE requests SET chat_id = ?, card_message_id = NULL, version = version + 1"
        " WHERE chat_id = ?",
        (new_id, old_id),
    )
