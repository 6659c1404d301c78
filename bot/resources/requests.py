"""Resource requests across the border (EDXL-RM's lifecycle): a commander asks for a number of
units of one type; the nearest available units are offered to the agencies that own them;
the first commitments fill the request, race-safe in the database; declines and silence move
on to the next units; units go en route, on scene, and are released.

Each function is one transaction. Messages to other chats (offers to agency chats, notices to
the incident chat and to the liaison chats of both countries) are queued in the outbox in the
same transaction. What the Telegram layer must do afterwards (refresh cards, schedule offer
time-outs) is returned as `Effects`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import RequestSettings
from bot.core.db import Database, Row, Tx, from_db_time, to_db_time, utcnow
from bot.core.directory import ensure_person, liaison_chats
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
    Place,
    RequestStatus,
    ResourceRequest,
    ResourceType,
    TimelineKind,
    Unit,
    UnitStatus,
)
from bot.delivery.outbox import enqueue
from bot.geo.distance import bounding_box, distance_km, eta_minutes
from bot.incidents.service import incident_in, record
from bot.render import requests as view
from bot.render.keyboards import offer_keyboard
from bot.resources.units import agency_chats, chats_of, may_manage, unit_from_row

MAX_QUANTITY = 50
MAX_NOTE = 300
ENGAGED = (OfferStatus.COMMITTED.value, OfferStatus.EN_ROUTE.value, OfferStatus.ON_SCENE.value)


@dataclass
class Effects:
    """What changed, for the Telegram layer: cards to refresh, time-outs to schedule."""

    requests: set[int] = field(default_factory=set)
    incidents: set[int] = field(default_factory=set)
    expiries: list[datetime] = field(default_factory=list)
    queued: bool = False  # something went into the outbox

    def merge(self, other: Effects) -> Effects:
        self.requests |= other.requests
        self.incidents |= other.incidents
        self.expiries.extend(other.expiries)
        self.queued = self.queued or other.queued
        return self


@dataclass(frozen=True)
class Outcome:
    request: ResourceRequest
    effects: Effects


@dataclass(frozen=True)
class OfferAnswer:
    """The state of an offer after a press, and why the press changed nothing (a msgid)."""

    offer: Offer
    request: ResourceRequest
    incident: Incident
    effects: Effects
    refusal: str | None = None


# --- ranking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    distance_km: float
    eta_minutes: int


def rank(
    units: Iterable[Unit], lat: float, lon: float, settings: RequestSettings
) -> list[Candidate]:
    """Available units within reach, nearest first (great-circle), ties by code."""
    ranked = []
    for unit in units:
        if unit.status is not UnitStatus.AVAILABLE:
            continue
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


async def pending_cards(db: Database) -> list[int]:
    async with db.read() as tx:
        rows = await tx.all("SELECT id FROM requests WHERE shown_version < version ORDER BY id")
    return [row["id"] for row in rows]


async def latest_open_request(db: Database, ref: int) -> ResourceRequest | None:
    async with db.read() as tx:
        row = await tx.one(
            "SELECT id FROM requests WHERE incident_id = ? AND status IN (?, ?)"
            " ORDER BY id DESC LIMIT 1",
            (ref, RequestStatus.OPEN.value, RequestStatus.WAITING_LOCATION.value),
        )
        return await request_in(tx, row["id"]) if row else None


async def request_of_message(db: Database, chat_id: int, message_id: int) -> ResourceRequest | None:
    async with db.read() as tx:
        row = await tx.one(
            "SELECT id FROM requests WHERE chat_id = ? AND card_message_id = ?",
            (chat_id, message_id),
        )
        return await request_in(tx, row["id"]) if row else None


# --- writing helpers ------------------------------------------------------------------------


async def _touch(tx: Tx, request: ResourceRequest, effects: Effects) -> None:
    """The request card and every card of its incident show the change."""
    await tx.execute("UPDATE requests SET version = version + 1 WHERE id = ?", (request.id,))
    await tx.execute(
        "UPDATE cards SET version = version + 1 WHERE incident_id = ?", (request.incident_ref,)
    )
    effects.requests.add(request.id)
    effects.incidents.add(request.incident_ref)


async def _reload(tx: Tx, request_id: int) -> ResourceRequest:
    request = await request_in(tx, request_id)
    assert request is not None
    return request


async def _agency_chats_for(tx: Tx, agency: str) -> list[Chat]:
    return chats_of(await agency_chats(tx), agency)


async def _candidates(
    tx: Tx, request: ResourceRequest, incident: Incident, settings: RequestSettings
) -> list[Candidate]:
    assert incident.lat is not None and incident.lon is not None
    low_lat, high_lat, low_lon, high_lon = bounding_box(
        incident.lat, incident.lon, settings.max_distance_km
    )
    rows = await tx.all(
        "SELECT u.*, NULL AS deployment FROM units u WHERE u.type = ? AND u.status = ?"
        " AND u.lat BETWEEN ? AND ? AND u.lon BETWEEN ? AND ?"
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
    chats = await agency_chats(tx)
    # a unit whose agency has no chat here cannot be asked
    units = [unit_from_row(row) for row in rows]
    return rank(
        [u for u in units if chats_of(chats, u.agency)], incident.lat, incident.lon, settings
    )


def _units_to_cover(capacities: Sequence[int], need: int) -> int:
    """How many of these (largest first) it takes to cover `need`; all of them if they cannot."""
    covered = 0
    for count, capacity in enumerate(sorted(capacities, reverse=True), start=1):
        covered += capacity
        if covered >= need:
            return count
    return len(capacities)


async def _top_up(
    tx: Tx, request_id: int, settings: RequestSettings, acting_chat: int | None
) -> Effects:
    """Keep enough units asked: those it takes to cover what is still needed, plus
    `extra_offers`. When nobody is left to ask, the request is not filled: say so."""
    effects = Effects()
    request = await _reload(tx, request_id)
    if request.status is not RequestStatus.OPEN:
        return effects
    need = request.quantity - request.committed
    if need <= 0:
        return await _fill(tx, request, acting_chat)
    incident = await incident_in(tx, request.incident_ref)
    assert incident is not None
    pending = [o.unit.capacity for o in request.offers if o.status is OfferStatus.OFFERED]
    candidates = await _candidates(tx, request, incident, settings)
    chosen: list[Candidate] = []
    for candidate in candidates:
        capacities = pending + [c.unit.capacity for c in chosen]
        covered = sum(min(c, need) for c in capacities)
        target = _units_to_cover(capacities, need) + settings.extra_offers
        if covered >= need and len(capacities) >= target:
            break
        chosen.append(candidate)
    now = utcnow()
    expires = now + timedelta(minutes=settings.offer_timeout_minutes)
    for candidate in chosen:
        offer_id = await tx.execute(
            "INSERT INTO request_offers (request_id, unit_id, distance_km, eta_minutes, amount,"
            " status, offered_at, expires_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
            (
                request.id,
                candidate.unit.id,
                round(candidate.distance_km, 2),
                candidate.eta_minutes,
                OfferStatus.OFFERED.value,
                to_db_time(now),
                to_db_time(expires),
            ),
        )
        await _send_offer(tx, offer_id, effects)
    if chosen:
        effects.expiries.append(expires)
    if not pending and not chosen:
        await tx.execute(
            "UPDATE requests SET status = ?, closed_at = ? WHERE id = ?",
            (RequestStatus.UNFILLED.value, to_db_time(now), request.id),
        )
        request = await _reload(tx, request.id)
        if acting_chat != request.chat_id:
            await _notify_request_chat(tx, request, "unfilled", effects)
    await _touch(tx, request, effects)
    return effects


async def _send_offer(tx: Tx, offer_id: int, effects: Effects) -> None:
    found = await offer_in(tx, offer_id)
    assert found is not None
    offer, request, incident = found
    for chat in await _agency_chats_for(tx, offer.unit.agency):
        await enqueue(
            tx,
            chat_id=chat.id,
            html=view.render_offer(offer, request, incident, chat.languages, chat.timezone),
            purpose="offer",
            reply_markup=offer_keyboard(offer, chat.languages),
            subject_id=offer.id,
            key=f"offer:{offer.id}:{chat.id}",
        )
        effects.queued = True


async def _notify_request_chat(
    tx: Tx, request: ResourceRequest, what: str, effects: Effects
) -> None:
    row = await tx.one(
        "SELECT * FROM chats WHERE id = ? AND unreachable_at IS NULL", (request.chat_id,)
    )
    if row is None:
        return
    languages = tuple(row["languages"].split(","))
    await enqueue(
        tx,
        chat_id=request.chat_id,
        html=view.render_request_notice(request, what, languages, row["timezone"]),
        purpose="request",
        incident_ref=request.incident_ref,
        subject_id=request.id,
        key=f"{what}:{request.id}",
    )
    effects.queued = True


async def _fill(tx: Tx, request: ResourceRequest, acting_chat: int | None) -> Effects:
    effects = Effects()
    now = to_db_time(utcnow())
    await tx.execute(
        "UPDATE requests SET status = ?, closed_at = ? WHERE id = ? AND status = ?",
        (RequestStatus.FILLED.value, now, request.id, RequestStatus.OPEN.value),
    )
    # the other agencies need not answer any more
    await tx.execute(
        "UPDATE request_offers SET status = ?, decided_at = ? WHERE request_id = ? AND status = ?",
        (OfferStatus.WITHDRAWN.value, now, request.id, OfferStatus.OFFERED.value),
    )
    request = await _reload(tx, request.id)
    if acting_chat != request.chat_id:
        await _notify_request_chat(tx, request, "filled", effects)
    await _touch(tx, request, effects)
    return effects


# --- the commander's side -------------------------------------------------------------------


def check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise UserError(N_("Ask for 1 to {limit} at a time."), limit=MAX_QUANTITY)


async def create(
    db: Database,
    *,
    ref: int,
    type_: ResourceType,
    quantity: int,
    note: str | None,
    author: Author,
    chat_id: int,
    update_id: int | None,
    settings: RequestSettings,
) -> Outcome:
    """/request: asked now if the incident has a location, else once it has one."""
    check_quantity(quantity)
    if note is not None and len(note) > MAX_NOTE:
        raise UserError(N_("That is too long: at most {limit} characters."), limit=MAX_NOTE)
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        incident = await incident_in(tx, ref)
        if incident is None or not incident.is_open:
            raise UserError(N_("There is no open incident #{ref}."), ref=ref)
        await ensure_person(tx, author.id, author.name, author.username)
        located = incident.lat is not None and incident.lon is not None
        status = RequestStatus.OPEN if located else RequestStatus.WAITING_LOCATION
        request_id = await tx.execute(
            "INSERT INTO requests (incident_id, chat_id, type, quantity, note, status,"
            " requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ref,
                chat_id,
                type_.value,
                quantity,
                note,
                status.value,
                author.id,
                to_db_time(utcnow()),
            ),
        )
        effects = Effects()
        if located:
            effects = await _top_up(tx, request_id, settings, chat_id)
        else:
            await _touch(tx, await _reload(tx, request_id), effects)
        request = await _reload(tx, request_id)
    return Outcome(request, effects)


async def located(
    db: Database,
    *,
    ref: int,
    settings: RequestSettings,
    place: Place | None = None,
    author: Author | None = None,
    chat_id: int | None = None,
) -> Effects:
    """The incident has a location now (shared, or `place` named in reply to the request
    card): ask for what was waiting for it."""
    effects = Effects()
    async with db.transaction() as tx:
        incident = await incident_in(tx, ref)
        if incident is None or not incident.is_open:
            return effects
        if place is not None:
            name, lat, lon = place.name, place.lat, place.lon
            await tx.execute(
                "UPDATE incidents SET lat = ?, lon = ?,"
                " location_text = COALESCE(location_text, ?) WHERE id = ?",
                (lat, lon, name, ref),
            )
            await record(tx, ref, TimelineKind.LOCATION, author, chat_id, lat=lat, lon=lon)
            effects.incidents.add(ref)
            incident = await incident_in(tx, ref)
            assert incident is not None
        if incident.lat is None or incident.lon is None:
            return effects
        rows = await tx.all(
            "SELECT id FROM requests WHERE incident_id = ? AND status = ? ORDER BY id",
            (ref, RequestStatus.WAITING_LOCATION.value),
        )
        for row in rows:
            await tx.execute(
                "UPDATE requests SET status = ? WHERE id = ?", (RequestStatus.OPEN.value, row["id"])
            )
            effects.merge(await _top_up(tx, row["id"], settings, chat_id))
    return effects


async def waiting_for_location(db: Database, ref: int) -> bool:
    """Whether requests of this incident wait for its location."""
    async with db.read() as tx:
        row = await tx.one(
            "SELECT 1 FROM requests WHERE incident_id = ? AND status = ? LIMIT 1",
            (ref, RequestStatus.WAITING_LOCATION.value),
        )
    return row is not None


async def located_incidents_waiting(db: Database, chat_id: int) -> list[int]:
    """Incidents of this chat that have a location now while requests still wait for one
    (a location was shared, /set location named a place, a place button was pressed)."""
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT DISTINCT r.incident_id FROM requests r JOIN incidents i ON i.id = r.incident_id"
            " WHERE r.status = ? AND r.chat_id = ? AND i.lat IS NOT NULL AND i.lon IS NOT NULL"
            " ORDER BY r.incident_id",
            (RequestStatus.WAITING_LOCATION.value, chat_id),
        )
    return [row["incident_id"] for row in rows]


async def release(
    db: Database, *, ref: int, code: str, author: Author, chat_id: int, update_id: int | None
) -> tuple[Offer, Effects]:
    """/release <code>: the unit leaves the incident and is available again."""
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        offers = await _offers(
            tx,
            "u.code = ? AND o.status IN (?, ?, ?)"
            " AND o.request_id IN (SELECT id FROM requests WHERE incident_id = ?)",
            (code.strip().upper(), *ENGAGED, ref),
        )
        if not offers:
            raise UserError(N_("{code} is not committed to incident #{ref}."), code=code, ref=ref)
        effects = Effects()
        released = await _release(tx, offers[0], author.name, effects, notify=True)
    return released, effects


async def _release(tx: Tx, offer: Offer, by: str, effects: Effects, *, notify: bool) -> Offer:
    now = to_db_time(utcnow())
    await tx.execute(
        "UPDATE request_offers SET status = ?, released_at = ? WHERE id = ?",
        (OfferStatus.RELEASED.value, now, offer.id),
    )
    await tx.execute(
        "UPDATE units SET status = ?, incident_id = NULL, confirmed_at = ?, confirmed_by = ?,"
        " updated_at = ? WHERE id = ? AND status = ?",
        (UnitStatus.AVAILABLE.value, now, by, now, offer.unit.id, UnitStatus.COMMITTED.value),
    )
    found = await offer_in(tx, offer.id)
    assert found is not None
    released, request, incident = found
    if notify:
        for chat in await _agency_chats_for(tx, released.unit.agency):
            await enqueue(
                tx,
                chat_id=chat.id,
                html=view.render_offer(released, request, incident, chat.languages, chat.timezone),
                purpose="release",
                subject_id=released.id,
                key=f"released:{released.id}:{chat.id}",
            )
            effects.queued = True
    await _touch(tx, request, effects)
    return released


async def cancel(
    db: Database,
    *,
    ref: int,
    request_id: int | None,
    author: Author,
    chat_id: int,
    update_id: int | None,
) -> Outcome:
    """/cancel: withdraw an open request (the latest, or the one named); units it already
    got are released and their agencies told."""
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        if request_id is None:
            row = await tx.one(
                "SELECT id FROM requests WHERE incident_id = ? AND status IN (?, ?)"
                " ORDER BY id DESC LIMIT 1",
                (ref, RequestStatus.OPEN.value, RequestStatus.WAITING_LOCATION.value),
            )
            if row is None:
                raise UserError(N_("Incident #{ref} has no open request."), ref=ref)
            request_id = int(row["id"])
        request = await request_in(tx, request_id)
        if request is None or request.incident_ref != ref:
            raise UserError(
                N_("There is no request {number} for incident #{ref}."), number=request_id, ref=ref
            )
        if not request.is_open:
            raise UserError(N_("Request {number} is no longer open."), number=request.id)
        now = to_db_time(utcnow())
        await tx.execute(
            "UPDATE requests SET status = ?, closed_at = ? WHERE id = ?",
            (RequestStatus.CANCELLED.value, now, request.id),
        )
        await tx.execute(
            "UPDATE request_offers SET status = ?, decided_at = ?"
            " WHERE request_id = ? AND status = ?",
            (OfferStatus.WITHDRAWN.value, now, request.id, OfferStatus.OFFERED.value),
        )
        effects = Effects()
        for offer in request.offers:
            if offer.status.engaged:
                await _release(tx, offer, author.name, effects, notify=True)
        request = await _reload(tx, request.id)
        await _touch(tx, request, effects)
    return Outcome(request, effects)


async def close_out(db: Database, chat_id: int, by: str) -> Effects:
    """Incidents of this chat that were closed: their open requests end (offers withdrawn)
    and the units still committed to them are released, their agencies told."""
    effects = Effects()
    async with db.transaction() as tx:
        rows = await tx.all(
            "SELECT r.id FROM requests r JOIN incidents i ON i.id = r.incident_id"
            " WHERE r.chat_id = ? AND i.status = 'closed' AND (r.status IN (?, ?)"
            "  OR EXISTS (SELECT 1 FROM request_offers o WHERE o.request_id = r.id"
            "             AND o.status IN (?, ?, ?)))"
            " ORDER BY r.id",
            (chat_id, RequestStatus.OPEN.value, RequestStatus.WAITING_LOCATION.value, *ENGAGED),
        )
        now = to_db_time(utcnow())
        for row in rows:
            request = await _reload(tx, row["id"])
            if request.is_open:
                await tx.execute(
                    "UPDATE requests SET status = ?, closed_at = ? WHERE id = ?",
                    (RequestStatus.CANCELLED.value, now, request.id),
                )
                await tx.execute(
                    "UPDATE request_offers SET status = ?, decided_at = ?"
                    " WHERE request_id = ? AND status = ?",
                    (OfferStatus.WITHDRAWN.value, now, request.id, OfferStatus.OFFERED.value),
                )
            for offer in request.offers:
                if offer.status.engaged:
                    await _release(tx, offer, by, effects, notify=True)
            await _touch(tx, await _reload(tx, request.id), effects)
    return effects


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
    db: Database,
    *,
    offer_id: int,
    commit: bool,
    person: Person,
    chat: Chat | None,
    update_id: int | None,
    settings: RequestSettings,
) -> OfferAnswer:
    """Commit or Decline, first come first served. Race-safe: the unit is taken only if it
    is still available, and the request's count only grows while it stays within the
    quantity asked (conditional updates, in one transaction)."""
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        offer, request, incident = await _agency_offer(
            tx,
            offer_id,
            person,
            chat,
            N_("{code} belongs to {agency}: only its own agency (or an admin) may answer."),
        )
        effects = Effects()
        refusal = await _answer(
            tx, offer, request, incident, commit, person, chat, settings, effects
        )
        found = await offer_in(tx, offer_id)
        assert found is not None
    return OfferAnswer(*found, effects=effects, refusal=refusal)


async def _answer(
    tx: Tx,
    offer: Offer,
    request: ResourceRequest,
    incident: Incident,
    commit: bool,
    person: Person,
    chat: Chat | None,
    settings: RequestSettings,
    effects: Effects,
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
        return N_("This offer was already answered.")
    if not commit:
        await tx.execute(
            "UPDATE request_offers SET status = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ? AND status = ?",
            (OfferStatus.DECLINED.value, now, person.name, offer.id, OfferStatus.OFFERED.value),
        )
        effects.merge(await _top_up(tx, request.id, settings, acting_chat))
        return None
    # 1. the unit, only if it is still available
    taken = await tx.execute(
        "UPDATE units SET status = ?, incident_id = ?, confirmed_at = ?, confirmed_by = ?,"
        " updated_at = ? WHERE id = ? AND status = ?",
        (
            UnitStatus.COMMITTED.value,
            incident.ref,
            now,
            person.name,
            now,
            offer.unit.id,
            UnitStatus.AVAILABLE.value,
        ),
    )
    if not taken:
        await _withdraw(tx, offer.id, now)
        effects.merge(await _top_up(tx, request.id, settings, acting_chat))
        return N_("{code} is no longer available: it was committed elsewhere or taken off duty.")
    # 2. a share of the request, only while it stays within the quantity asked
    row = await tx.one("SELECT quantity, committed FROM requests WHERE id = ?", (request.id,))
    assert row is not None
    amount = max(0, min(offer.unit.capacity, row["quantity"] - row["committed"]))
    counted = amount > 0 and await tx.execute(
        "UPDATE requests SET committed = committed + ? WHERE id = ? AND status = ?"
        " AND committed + ? <= quantity",
        (amount, request.id, RequestStatus.OPEN.value, amount),
    )
    if not counted:
        # filled (or cancelled) meanwhile: give the unit back
        await tx.execute(
            "UPDATE units SET status = ?, incident_id = NULL WHERE id = ?",
            (UnitStatus.AVAILABLE.value, offer.unit.id),
        )
        await _withdraw(tx, offer.id, now)
        await _touch(tx, request, effects)
        return N_("The request is already filled: thank you, nothing more is needed.")
    await tx.execute(
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
    # the unit's other open offers (other requests) are moot now
    others = await tx.all(
        "SELECT id, request_id FROM request_offers WHERE unit_id = ? AND status = ? AND id != ?",
        (offer.unit.id, OfferStatus.OFFERED.value, offer.id),
    )
    for other in others:
        await _withdraw(tx, other["id"], now)
        effects.merge(await _top_up(tx, other["request_id"], settings, acting_chat))
    if crossing(offer.unit.country, incident.country):
        await _tell_liaisons(tx, offer.id, effects)
    effects.merge(await _top_up(tx, request.id, settings, acting_chat))
    request = await _reload(tx, request.id)
    await _touch(tx, request, effects)
    return None


async def _withdraw(tx: Tx, offer_id: int, now: str) -> None:
    await tx.execute(
        "UPDATE request_offers SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
        (OfferStatus.WITHDRAWN.value, now, offer_id, OfferStatus.OFFERED.value),
    )


async def _tell_liaisons(tx: Tx, offer_id: int, effects: Effects) -> None:
    """A unit crossing the border: the liaison chats of both countries are told (the 2019
    arrangement requires that the authority on each side knows)."""
    found = await offer_in(tx, offer_id)
    assert found is not None
    offer, request, incident = found
    for chat in await liaison_chats(tx):
        if chat.country not in (offer.unit.country, incident.country):
            continue
        await enqueue(
            tx,
            chat_id=chat.id,
            html=view.render_crossing(offer, request, incident, chat.languages, chat.timezone),
            purpose="crossing",
            incident_ref=incident.ref,
            subject_id=offer.id,
            key=f"crossing:{offer.id}:{chat.id}",
        )
        effects.queued = True


async def advance(
    db: Database,
    *,
    offer_id: int | None = None,
    code: str | None = None,
    to: OfferStatus,
    person: Person,
    chat: Chat | None,
    update_id: int | None,
) -> OfferAnswer:
    """A committed unit goes en route, then on scene (its own agency says so)."""
    if to not in (OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE):
        raise UserError(N_("This button is no longer valid."))
    async with db.transaction() as tx:
        await tx.claim_update(update_id)
        if offer_id is None:
            rows = await tx.all(
                "SELECT o.id FROM request_offers o JOIN units u ON u.id = o.unit_id"
                " WHERE u.code = ? AND o.status IN (?, ?, ?)",
                ((code or "").strip().upper(), *ENGAGED),
            )
            if not rows:
                raise UserError(N_("{code} is not committed to any incident."), code=code or "")
            offer_id = int(rows[0]["id"])
        offer, request, _incident = await _agency_offer(
            tx,
            offer_id,
            person,
            chat,
            N_("{code} belongs to {agency}: only its own agency (or an admin) may change it."),
        )
        allowed = {
            OfferStatus.EN_ROUTE: (OfferStatus.COMMITTED,),
            OfferStatus.ON_SCENE: (OfferStatus.COMMITTED, OfferStatus.EN_ROUTE),
        }[to]
        effects = Effects()
        refusal = None
        if offer.status not in allowed:
            refusal = N_("This unit is not on its way to the incident any more.")
        else:
            column = "en_route_at" if to is OfferStatus.EN_ROUTE else "on_scene_at"
            await tx.execute(
                f"UPDATE request_offers SET status = ?, {column} = ? WHERE id = ?",
                (to.value, to_db_time(utcnow()), offer.id),
            )
            await _touch(tx, request, effects)
        found = await offer_in(tx, offer_id)
        assert found is not None
    return OfferAnswer(*found, effects=effects, refusal=refusal)


async def expire_overdue(
    db: Database, settings: RequestSettings, now: datetime | None = None
) -> Effects:
    """Offers nobody answered in time go to the next units (run by a job, and at start for
    what timed out while the bot was down)."""
    moment = to_db_time(now or utcnow())
    effects = Effects()
    async with db.transaction() as tx:
        rows = await tx.all(
            "SELECT id, request_id FROM request_offers WHERE status = ? AND expires_at <= ?"
            " ORDER BY id",
            (OfferStatus.OFFERED.value, moment),
        )
        for row in rows:
            await tx.execute(
                "UPDATE request_offers SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
                (OfferStatus.EXPIRED.value, moment, row["id"], OfferStatus.OFFERED.value),
            )
        for request_id in sorted({row["request_id"] for row in rows}):
            effects.merge(await _top_up(tx, request_id, settings, None))
    return effects


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


async def set_card_message(
    db: Database, request_id: int, message_id: int | None, version: int
) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE requests SET card_message_id = ?, shown_version = MAX(shown_version, ?)"
            " WHERE id = ?",
            (message_id, version, request_id),
        )


async def card_state(
    db: Database, request_id: int
) -> tuple[ResourceRequest, int | None, int, int] | None:
    """The request, its card's message id, version and shown version."""
    async with db.read() as tx:
        row = await tx.one(
            "SELECT card_message_id, version, shown_version FROM requests WHERE id = ?",
            (request_id,),
        )
        request = await request_in(tx, request_id)
    if row is None or request is None:
        return None
    return request, row["card_message_id"], row["version"], row["shown_version"]
