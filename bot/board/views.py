"""What the board's page reads, as JSON-ready dicts (docs/board.md, "The HTTP interface").

Pure reads, each in the transaction its caller opened (one per request). Codes (a status, a
severity, a unit type) are given as they are stored, each beside its label in the language
asked for (`<name>_label`), so that the page needs no second table of our vocabulary. Times are
ISO 8601 in UTC.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.board.access import Viewer, open_visible_in
from bot.core import vocabulary as labels
from bot.core.db import Tx, from_db_time
from bot.core.i18n import Translator
from bot.core.models import (
    Incident,
    IncidentStatus,
    KeepStatus,
    Level,
    MediaKind,
    OfferStatus,
    PhaseState,
    ResourceType,
    Severity,
    TimelineEntry,
    UnitStatus,
)
from bot.geo import sites
from bot.geo.distance import distance_km
from bot.incidents import phases
from bot.incidents import service as incidents
from bot.render.timeline import timeline_line
from bot.resources import requests

# the nearest available units shown: the nearest of each type, within this distance
NEAREST_WITHIN_KM = 40.0
MAX_NEAREST = 10
# the newest entries of the timeline given (the page shows them newest first)
MAX_ENTRIES = 300
# the at-risk sites around the incident: within this distance (beyond their radius)
SITES_WITHIN_KM = 25.0

_TAG = re.compile(r"<[^>]+>")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _db_iso(value: str | None) -> str | None:
    return iso(from_db_time(value)) if value else None


def _severity(tr: Translator, value: Severity | None) -> str | None:
    return tr.gettext(labels.SEVERITY[value]) if value else None


def _phases(tr: Translator, states: Iterable[PhaseState]) -> list[dict[str, Any]]:
    return [
        {
            "country": state.country.value,
            "level": state.level.value,
            "label": tr.gettext(labels.PHASE[(state.country, Level(state.level))]),
            "since": iso(state.since),
            "involvement": state.involvement.value,
        }
        for state in states
    ]


async def _phase_states(tx: Tx, incident: Incident) -> list[PhaseState]:
    involved = await requests.involved_countries_in(tx, incident)
    return await phases.current_in(tx, incident, involved)


# ---- the versions the live changes carry -------------------------------------------------


_VERSION = (
    "SELECT i.id,"
    " (SELECT COALESCE(SUM(c.version), 0) FROM cards c WHERE c.incident_id = i.id)"
    " + (SELECT COALESCE(SUM(r.version), 0) FROM requests r WHERE r.incident_id = i.id)"
    " + (SELECT COALESCE(SUM(a.tally_version), 0) FROM alerts a WHERE a.incident_id = i.id)"
    " + (SELECT COUNT(*) FROM timeline t WHERE t.incident_id = i.id)"
    " + (SELECT COUNT(*) FROM media_items m JOIN media_downloads d ON d.item_id = m.id"
    " WHERE m.incident_id = i.id AND d.status = 'kept') AS version"
    " FROM incidents i WHERE i.id = ?"
)


async def version_in(tx: Tx, ref: int) -> int:
    """A number that grows with every change to the incident shown on the board: its cards',
    request cards' and tally's versions (each bumped by the change that makes it stale), its
    timeline's length and its kept photos."""
    row = await tx.one(_VERSION, (ref,))
    return int(row["version"]) if row else 0


async def versions_in(tx: Tx, refs: Iterable[int]) -> dict[int, int]:
    return {ref: await version_in(tx, ref) for ref in sorted(set(refs))}


# ---- the overview --------------------------------------------------------------------------


async def overview_in(tx: Tx, viewer: Viewer, tr: Translator) -> dict[str, Any]:
    refs = await open_visible_in(tx, viewer)
    listed = []
    for ref in refs:
        incident = await incidents.incident_in(tx, ref)
        if incident is None:
            continue
        listed.append(
            {
                **_facts(tr, incident),
                "phases": _phases(tr, await _phase_states(tx, incident)),
                "counts": await _counts_in(tx, ref),
            }
        )
    return {"incidents": listed}


async def _counts_in(tx: Tx, ref: int) -> dict[str, int]:
    row = await tx.one(
        "SELECT (SELECT COUNT(*) FROM units WHERE incident_id = ?) AS units,"
        " (SELECT COUNT(*) FROM requests WHERE incident_id = ?) AS requests,"
        " (SELECT COUNT(*) FROM alerts WHERE incident_id = ?) AS alerts,"
        " (SELECT COUNT(*) FROM timeline WHERE incident_id = ?) AS entries,"
        " (SELECT COUNT(*) FROM media_items WHERE incident_id = ?) AS media",
        (ref, ref, ref, ref, ref),
    )
    assert row is not None
    return {key: int(row[key]) for key in ("units", "requests", "alerts", "entries", "media")}


def _facts(tr: Translator, incident: Incident) -> dict[str, Any]:
    _ = tr.gettext
    return {
        "ref": incident.ref,
        "title": incident.title,
        "type": incident.type,
        "status": incident.status.value,
        "status_label": _(labels.STATUS[IncidentStatus(incident.status)]),
        "severity": incident.severity.value if incident.severity else None,
        "severity_label": _severity(tr, incident.severity),
        "country": incident.country.value,
        "exercise": incident.exercise,
        "updated_at": iso(incident.updated_at),
    }


# ---- one incident --------------------------------------------------------------------------


async def incident_page_in(
    tx: Tx, incident: Incident, tr: Translator, timezone: str, near_km: float = SITES_WITHIN_KM
) -> dict[str, Any]:
    """Everything the incident's page shows (the caller checked the viewer may see it)."""
    ref = incident.ref
    facts = {
        **_facts(tr, incident),
        "lat": incident.lat,
        "lon": incident.lon,
        "location_text": incident.location_text,
        "commander": incident.commander.name if incident.commander else None,
        "spokesperson": incident.spokesperson.name if incident.spokesperson else None,
        "liaison": incident.liaison.name if incident.liaison else None,
        "declared_at": iso(incident.declared_at),
        "closed_at": iso(incident.closed_at),
        "phases": _phases(tr, await _phase_states(tx, incident)),
        "counts": await _counts_in(tx, ref),
    }
    requested = await requests.requests_of(tx, ref)
    units = []
    for request in requested:
        for offer in request.offers:
            if not (offer.status.engaged or offer.status is OfferStatus.RELEASED):
                continue
            unit = offer.unit
            arrival = offer.estimated_arrival
            units.append(
                {
                    "code": unit.code,
                    "name": unit.name,
                    "type": unit.type.value,
                    "type_label": tr.gettext(labels.TYPE[ResourceType(unit.type)]),
                    "agency": unit.agency,
                    "country": unit.country.value,
                    "status": offer.status.value,
                    "status_label": tr.gettext(labels.OFFER_STATUS[offer.status]),
                    "lat": unit.lat,
                    "lon": unit.lon,
                    "distance_km": round(offer.distance_km, 1),
                    "eta_minutes": offer.eta_minutes,
                    "arrival": iso(arrival),
                    "request": request.id,
                    "path": {
                        "committed": iso(offer.decided_at),
                        "en_route": iso(offer.en_route_at),
                        "on_scene": iso(offer.on_scene_at),
                        "released": iso(offer.released_at),
                    },
                }
            )
    return {
        "incident": facts,
        "units": units,
        "nearest": await _nearest_in(tx, incident, tr),
        "requests": [
            {
                "id": request.id,
                "type": request.type.value,
                "type_label": tr.gettext(labels.TYPE[ResourceType(request.type)]),
                "quantity": request.quantity,
                "committed": request.committed,
                "status": request.status.value,
                "status_label": tr.gettext(labels.REQUEST_STATUS[request.status]),
                "note": request.note,
                "requested_by": request.requested_by.name if request.requested_by else None,
                "created_at": iso(request.created_at),
                "closed_at": iso(request.closed_at),
                "units": [
                    offer.unit.code
                    for offer in request.offers
                    if offer.status.engaged or offer.status is OfferStatus.RELEASED
                ],
            }
            for request in requested
        ],
        "alerts": await _alerts_in(tx, ref, tr),
        "statements": await _statements_in(tx, ref, tr),
        "sites": await _sites_in(tx, incident, tr, near_km),
        "timeline": await _timeline_in(tx, ref, tr, timezone),
        "version": await version_in(tx, ref),
    }


_NEAREST = (
    # the nearest available unit of one type (by an equirectangular distance, which orders
    # places as the great circle does at these scales): a range of the units_search index
    "SELECT code, name, type, agency, country, lat, lon FROM units"
    " WHERE type = ? AND status = ? AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
    " ORDER BY (lat - ?) * (lat - ?) + (lon - ?) * (lon - ?) * ? LIMIT 1"
)


async def _nearest_in(tx: Tx, incident: Incident, tr: Translator) -> list[dict[str, Any]]:
    if incident.lat is None or incident.lon is None:
        return []
    lat, lon = incident.lat, incident.lon
    squeeze = math.cos(math.radians(lat)) ** 2  # a degree of longitude is shorter
    dlat = NEAREST_WITHIN_KM / 111.0
    dlon = dlat / max(math.sqrt(squeeze), 0.1)
    rows = []
    for kind in ResourceType:
        row = await tx.one(
            _NEAREST,
            (
                kind.value,
                UnitStatus.AVAILABLE.value,
                lat - dlat,
                lat + dlat,
                lon - dlon,
                lon + dlon,
                lat,
                lat,
                lon,
                lon,
                squeeze,
            ),
        )
        if row is not None:
            rows.append(row)
    found = []
    for row in rows:
        distance = distance_km(lat, lon, row["lat"], row["lon"])
        if distance <= NEAREST_WITHIN_KM:
            found.append((distance, row))
    found.sort(key=lambda pair: pair[0])
    return [
        {
            "code": row["code"],
            "name": row["name"],
            "type": row["type"],
            "type_label": _type_label(tr, row["type"]),
            "agency": row["agency"],
            "country": row["country"],
            "lat": row["lat"],
            "lon": row["lon"],
            "distance_km": round(distance, 1),
        }
        for distance, row in found[:MAX_NEAREST]
    ]


def _type_label(tr: Translator, code: str) -> str:
    try:
        return tr.gettext(labels.TYPE[ResourceType(code)])
    except ValueError:
        return code


def _stored_texts(raw: str) -> dict[str, str]:
    """An alert's or statement's words as stored: JSON {"": default, "fr": …, "nl": …}."""
    try:
        texts = json.loads(raw)
    except ValueError:
        return {"": raw}
    if not isinstance(texts, dict):
        return {"": raw}
    return {str(key): str(value) for key, value in texts.items()}


def _text_in(tr: Translator, texts: dict[str, str]) -> str:
    """An alert's or statement's words in the reader's language, else the default."""
    return texts.get(tr.language) or texts.get("") or next(iter(texts.values()), "")


async def _alerts_in(tx: Tx, ref: int, tr: Translator) -> list[dict[str, Any]]:
    """The incident's alerts with their acknowledgement tally: three reads in all (an alert
    to hundreds of groups is one of them)."""
    rows = await tx.all(
        "SELECT id, severity, texts, exercise, created_at FROM alerts WHERE incident_id = ?"
        " ORDER BY id DESC",
        (ref,),
    )
    if not rows:
        return []
    ackers: dict[tuple[int, int], list[str]] = {}
    for row in await tx.all(
        "SELECT k.alert_id, k.chat_id, p.name FROM alert_acks k JOIN alerts a ON a.id ="
        " k.alert_id JOIN people p ON p.id = k.person_id WHERE a.incident_id = ? ORDER BY k.at",
        (ref,),
    ):
        ackers.setdefault((row["alert_id"], row["chat_id"]), []).append(row["name"])
    targets: dict[int, list[dict[str, Any]]] = {}
    for row in await tx.all(
        "SELECT t.alert_id, t.chat_id, c.name, t.delivered_at, t.acked_at, c.unreachable_at"
        " FROM alert_targets t JOIN alerts a ON a.id = t.alert_id"
        " LEFT JOIN chats c ON c.id = t.chat_id WHERE a.incident_id = ? ORDER BY c.name",
        (ref,),
    ):
        targets.setdefault(row["alert_id"], []).append(
            {
                "chat": row["name"] or str(row["chat_id"]),
                "delivered_at": _db_iso(row["delivered_at"]),
                "acked_at": _db_iso(row["acked_at"]),
                "ackers": ackers.get((row["alert_id"], row["chat_id"]), []),
                "unreachable": row["unreachable_at"] is not None,
            }
        )
    found = []
    for row in rows:
        severity = Severity(row["severity"])
        listed = targets.get(row["id"], [])
        found.append(
            {
                "id": row["id"],
                "severity": severity.value,
                "severity_label": _severity(tr, severity),
                "text": _text_in(tr, _stored_texts(row["texts"])),
                "sent_at": _db_iso(row["created_at"]),
                "exercise": bool(row["exercise"]),
                "acked": sum(1 for target in listed if target["acked_at"] is not None),
                "chats": len(listed),
                "targets": listed,
            }
        )
    return found


async def _statements_in(tx: Tx, ref: int, tr: Translator) -> list[dict[str, Any]]:
    rows = await tx.all(
        "SELECT id, texts, decided_at FROM statements WHERE incident_id = ? AND status = ?"
        " ORDER BY id DESC",
        (ref, "published"),
    )
    return [
        {
            "id": row["id"],
            "published_at": _db_iso(row["decided_at"]),
            "text": _text_in(tr, _stored_texts(row["texts"])),
        }
        for row in rows
    ]


async def _sites_in(
    tx: Tx, incident: Incident, tr: Translator, near_km: float
) -> list[dict[str, Any]]:
    if incident.lat is None or incident.lon is None:
        return []
    found = await sites.near_in(tx, incident.lat, incident.lon, near_km)
    return [
        {
            "code": near.site.code,
            "name": near.site.name,
            "kind": near.site.kind.value,
            "kind_label": tr.gettext(labels.KIND[near.site.kind]),
            "lat": near.site.lat,
            "lon": near.site.lon,
            "radius_km": near.site.radius_km,
            "distance_km": round(near.distance_km, 1),
            "inside": near.inside,
            "hazards": [tr.gettext(labels.HAZARD[h]) for h in near.site.hazards]
            + ([near.site.hazard_note] if near.site.hazard_note else []),
        }
        for near in found
    ]


async def photos_kept_in(tx: Tx, ref: int) -> set[int]:
    """The incident's photos whose file is kept (the board shows their thumbnails)."""
    rows = await tx.all(
        "SELECT m.id FROM media_items m JOIN media_downloads d ON d.item_id = m.id"
        " WHERE m.incident_id = ? AND m.kind = ? AND d.status = ?",
        (ref, MediaKind.PHOTO.value, KeepStatus.KEPT.value),
    )
    return {row["id"] for row in rows}


async def photo_in(tx: Tx, item_id: int) -> tuple[int, str] | None:
    """A kept photo's incident and its path in the evidence folder."""
    row = await tx.one(
        "SELECT m.incident_id, d.path FROM media_items m JOIN media_downloads d"
        " ON d.item_id = m.id WHERE m.id = ? AND m.kind = ? AND d.status = ?"
        " AND d.path IS NOT NULL",
        (item_id, MediaKind.PHOTO.value, KeepStatus.KEPT.value),
    )
    return (int(row["incident_id"]), str(row["path"])) if row else None


def _plain(tr: Translator, entry: TimelineEntry, timezone: str) -> str:
    """What the entry says, in words (the timeline line of the card, without its time, author
    and markup)."""
    if entry.kind.value == "note":
        return entry.text or ""
    line = timeline_line(tr, entry, timezone)
    _, _, what = line.partition("</b>: ")
    return html.unescape(_TAG.sub("", what))


async def _timeline_in(tx: Tx, ref: int, tr: Translator, timezone: str) -> list[dict[str, Any]]:
    total = await tx.one("SELECT COUNT(*) AS n FROM timeline WHERE incident_id = ?", (ref,))
    count = int(total["n"]) if total else 0
    entries = await incidents.timeline_in(tx, ref, MAX_ENTRIES)
    first = count - len(entries) + 1  # the number of the oldest entry given
    shown = await photos_kept_in(tx, ref)
    listed = []
    for number, entry in enumerate(entries, start=first):
        listed.append(
            {
                "n": number,
                "at": iso(entry.at),
                "author": entry.author.name if entry.author else None,
                "kind": entry.kind.value,
                "text": _plain(tr, entry, timezone),
                "lat": entry.lat,
                "lon": entry.lon,
                "edited_at": iso(entry.edited_at),
                "media": [
                    {
                        "kind": item.kind.value,
                        "caption": item.caption,
                        # a kept photo's thumbnail, relative to the page (/board/)
                        "thumbnail_url": f"api/media/{item.id}" if item.id in shown else None,
                    }
                    for item in entry.media
                ],
            }
        )
    listed.reverse()  # newest first
    return listed


__all__ = ["incident_page_in", "iso", "overview_in", "version_in", "versions_in"]
