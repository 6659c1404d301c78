"""What surrounds an incident beyond its own fields: the phase of each country involved and
the at-risk sites whose planning radius it lies in (for its card and /status)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.db import Database, Tx
from bot.core.models import Incident, SiteNear, Surroundings
from bot.geo import sites
from bot.incidents import phases
from bot.resources import requests


async def surroundings_in(tx: Tx, incident: Incident) -> Surroundings:
    states = await phases.current_in(
        tx, incident, await requests.involved_countries_in(tx, incident)
    )
    found: list[SiteNear] = []
    if incident.lat is not None and incident.lon is not None:
        found = sites.warnings(await sites.near_in(tx, incident.lat, incident.lon, 0.0))
    return Surroundings(tuple(states), tuple(found))


async def surroundings(db: Database, incidents: Sequence[Incident]) -> dict[int, Surroundings]:
    async with db.read() as tx:
        return {i.ref: await surroundings_in(tx, i) for i in incidents}
