"""What the board's map draws under the incident, for `GET /board/api/geo`: the
France–Belgium border (Natural Earth, bot/data/border_fr_be.csv) and the towns of the
gazetteer (GeoNames), biggest first, with their name in the other language where the
exonyms give one (Lille: "names": {"nl": "Rijsel"}). The same for every reader and every
incident: pure, built once, cacheable. The map (static/map.js) projects it in Web Mercator,
the projection of an optional tile layer (`[board] tiles_url`, XYZ), and names the towns that
fit at each zoom.

Also the words the map shows (`MAP_WORDS`): the page fetches their translations with its
other labels (`GET /board/api/strings`) and gives map.js a `t(msgid)`.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from bot.core.i18n import N_
from bot.geo.gazetteer import places
from bot.geo.maps import ATTRIBUTION, border

# The language of a commune's own name (GeoNames: its official name): Dutch in West Flanders,
# French everywhere else the gazetteer covers (Nord's Flemish-looking names are French names).
_DUTCH_REGIONS = frozenset({"West-Vlaanderen"})

# 5 decimals of a degree: about a metre, enough for a town's dot and a border at 1:10m
_DIGITS = 5

# Every msgid static/map.js translates (with options.t); keep the two in step
# (tests/test_board_map.py checks that map.js asks for nothing else).
MAP_WORDS: tuple[str, ...] = (
    N_("Incident #{ref}"),
    N_("France–Belgium border"),
    N_("committed"),
    N_("en route"),
    N_("on scene"),
    N_("released"),
    N_("available"),
    N_("in {n} min"),
    N_("Committed unit, coloured by its status"),
    N_("Nearest available unit"),
    N_("At-risk site and its planning radius"),
    N_("Located timeline entry, numbered as in the timeline"),
    N_("Town"),
    N_("Legend"),
    N_("Zoom in"),
    N_("Zoom out"),
    N_("Whole view"),
    N_("Map: drag or use the arrow keys to move, + and − to zoom"),
)


def _names(region: str, also: tuple[str, ...]) -> dict[str, str]:
    """The town's name in the other language of the border, from its exonyms (data/
    exonyms.csv lists the Dutch name first for a French-speaking commune, and the French
    name last for a Flemish one: Ostend → Oostende | Ostende)."""
    if region in _DUTCH_REGIONS:
        return {"fr": also[-1]}
    return {"nl": also[0]}


def _point(lat: float, lon: float) -> list[float]:
    return [round(lat, _DIGITS), round(lon, _DIGITS)]


@cache
def _base() -> dict[str, Any]:
    towns: list[dict[str, Any]] = []
    for place in sorted(places(), key=lambda p: (-p.population, p.name)):
        town: dict[str, Any] = {
            "name": place.name,
            "lat": round(place.lat, _DIGITS),
            "lon": round(place.lon, _DIGITS),
            "country": place.country.value,
            "population": place.population,
        }
        if place.also:
            town["also"] = list(place.also)
            town["names"] = _names(place.region, place.also)
        towns.append(town)
    return {
        # one or more lines, each west to east: [[[lat, lon], ...], ...]
        "border": [[_point(lat, lon) for lat, lon in border()]],
        "towns": towns,
        "attribution": ATTRIBUTION,
    }


def geo(tiles_url: str = "") -> dict[str, Any]:
    """The map's background as JSON-ready data (a fresh top-level dict; the lists inside are
    shared: do not change them)."""
    return {**_base(), "tiles_url": tiles_url}


@cache
def geo_json(tiles_url: str = "") -> bytes:
    """`geo(tiles_url)` encoded once, for the response body."""
    return json.dumps(geo(tiles_url), ensure_ascii=False, separators=(",", ":")).encode()


@cache
def geo_etag(tiles_url: str = "") -> str:
    """A strong ETag for `geo_json(tiles_url)` (it changes only with the data files)."""
    return '"' + hashlib.sha256(geo_json(tiles_url)).hexdigest()[:32] + '"'
