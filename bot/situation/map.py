"""Collects what the situation map shows: the incident, the units committed to it and the
nearest available unit of each type, the at-risk sites around it."""

from __future__ import annotations

from bot.core.db import Database, Tx
from bot.core.models import Incident
from bot.geo import sites
from bot.geo.distance import distance_km
from bot.geo.maps import MapData, MapMark, MapUnit
from bot.incidents import service as incidents

# the nearest available unit of each type within this distance is shown
AVAILABLE_WITHIN_KM = 40.0
MAX_AVAILABLE = 10
# the latest located entries of the timeline are marked (numbered as in the timeline)
MAX_MARKS = 20


async def map_data(
    db: Database,
    incident: Incident,
    near_km: float,
    when: str = "",
) -> MapData:
    async with db.read() as tx:
        return await map_data_in(tx, incident, near_km, when)


async def map_data_in(
    tx: Tx,
    incident: Incident,
    near_km: float,
    when: str = "",
) -> MapData:
    assert incident.lat is not None and incident.lon is not None
    lat, lon = incident.lat, incident.lon
    units: list[MapUnit] = []
    found = await sites.near_in(tx, lat, lon, near_km)
    rows = await tx.all(
        "SELECT code, type, lat, lon, status, incident_id FROM units"
        " WHERE incident_id = ? OR status = 'available'",
        (incident.ref,),
    )
    nearest: dict[str, tuple[float, MapUnit]] = {}
    for row in rows:
        committed = row["incident_id"] == incident.ref and row["status"] == "committed"
        unit = MapUnit(
            code=row["code"],
            type=row["type"],
            lat=row["lat"],
            lon=row["lon"],
            committed=committed,
        )
        if committed:
            units.append(unit)
            continue
        if row["status"] != "available":
            continue
        distance = distance_km(lat, lon, unit.lat, unit.lon)
        if distance > AVAILABLE_WITHIN_KM:
            continue
        best = nearest.get(unit.type)
        if best is None or distance < best[0]:
            nearest[unit.type] = (distance, unit)
    closest = sorted(nearest.values(), key=lambda pair: pair[0])[:MAX_AVAILABLE]
    units.extend(unit for _, unit in closest)
    timeline = await incidents.whole_timeline_in(tx, incident.ref)
    marks = [
        MapMark(number, entry.author.name if entry.author else "Passerelle", entry.lat, entry.lon)
        for number, entry in enumerate(timeline, start=1)
        if entry.lat is not None and entry.lon is not None
    ]
    return MapData(
        ref=incident.ref,
        title=incident.title,
        lat=lat,
        lon=lon,
        units=tuple(units),
        sites=tuple(n.site for n in found),
        when=when,
        marks=tuple(marks[-MAX_MARKS:]),
    )
